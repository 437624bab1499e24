package conf

import _ "embed"

// SampleConfig is ftpx-server.ini: every setting with its default, with
// root and accounts under the repository's var/ folder (relative to conf/).
//
//go:embed ftpx-server.ini
var SampleConfig []byte

// SampleAccounts is accounts.ini: a demo account, user demo with password
// demo-password and a 1GB quota.
//
//go:embed accounts.ini
var SampleAccounts []byte
