package webd

import (
	"embed"
	"net/http"
	"path"
)

// The web client: one page, its script and its style, all our own and
// served from the binary (nothing is fetched from anywhere else).
//
//go:embed page
var page embed.FS

// assetTypes are the Content-Types of what page/ holds.
var assetTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

// servePage serves the web client.
func servePage(w http.ResponseWriter, r *http.Request) {
	serveFile(w, r, "index.html")
}

// serveAsset serves a file of page/ by its name.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	serveFile(w, r, r.PathValue("file"))
}

func serveFile(w http.ResponseWriter, r *http.Request, name string) {
	typ, ok := assetTypes[path.Ext(name)]
	b, err := page.ReadFile("page/" + name)
	if !ok || err != nil || name == "index.html" && r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}
