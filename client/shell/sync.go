package shell

import (
	"fmt"

	"ftpx/client"
	"ftpx/protocol"
)

// syncHelp explains the sync flags of get and put, in their help.
const syncHelp = "--checksum compares MD5s\ninstead, --ignore-times sends every file, --delete removes from the destination tree what the\nsource does not have, --dry-run (-n) prints what would be sent, skipped or removed and changes nothing."

// syncOptions reads the flags get and put share; --delete, --checksum
// and --ignore-times need -r.
func syncOptions(cmd string, a *Call) (client.TransferOptions, error) {
	opt := client.TransferOptions{To: a.flags["to"], Recursive: a.has("r"),
		Delete: a.has("delete"), Checksum: a.has("checksum") || a.has("c"),
		IgnoreTimes: a.has("ignore-times") || a.has("I"), DryRun: a.has("dry-run") || a.has("n")}
	for i, set := range []bool{opt.Delete, opt.Checksum, opt.IgnoreTimes} {
		if set && !opt.Recursive {
			return opt, client.Usagef("%s: --%s needs -r", cmd, []string{"delete", "checksum", "ignore-times"}[i])
		}
	}
	return opt, nil
}

// DryRunLine is the line --dry-run prints for a file that would be sent
// or skipped.
func DryRunLine(r client.Result) string {
	from, to := r.Local, r.Remote
	if r.Action == protocol.ActionGet {
		from, to = r.Remote, r.Local
	}
	switch {
	case r.Skipped:
		return "would skip " + client.Printable(to) + " (unchanged)"
	case r.Delta:
		return fmt.Sprintf("would %s %s -> %s (%s, as a delta)", r.Action, client.Printable(from), client.Printable(to), protocol.HumanSize(r.Size))
	}
	return fmt.Sprintf("would %s %s -> %s (%s)", r.Action, client.Printable(from), client.Printable(to), protocol.HumanSize(r.Size))
}

// RemovalLine is the line --dry-run prints for a name --delete would
// remove.
func RemovalLine(r client.Removal) string {
	what := r.Remote
	if r.Local != "" {
		what = r.Local
	}
	if r.DryRun {
		return "would delete " + client.Printable(what)
	}
	return "deleted " + client.Printable(what)
}
