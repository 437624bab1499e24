package ftpd

import "slices"

// command is one FTP command's handler and what it needs.
type command struct {
	fn   func(c *session, arg string) error
	arg  argRule
	open bool // allowed before login
}

type argRule int

const (
	argOptional argRule = iota
	argRequired
	argNone
)

// commands is the table of every command served; dispatch checks the
// argument rule and the login once, not each handler. The X forms are
// the older names some clients still send.
var commands map[string]command

func init() {
	commands = map[string]command{
		// auth.go: the session
		"USER": {fn: (*session).handleUser, arg: argRequired, open: true},
		"PASS": {fn: (*session).handlePass, open: true},
		"QUIT": {fn: (*session).handleQuit, open: true},
		"AUTH": {fn: (*session).handleAuth, arg: argRequired, open: true},
		"PBSZ": {fn: (*session).handlePbsz, arg: argRequired, open: true},
		"PROT": {fn: (*session).handleProt, arg: argRequired, open: true},
		"FEAT": {fn: (*session).handleFeat, arg: argNone, open: true},
		"OPTS": {fn: (*session).handleOpts, arg: argRequired, open: true},
		"SYST": {fn: (*session).handleSyst, arg: argNone, open: true},
		"NOOP": {fn: (*session).handleNoop, open: true},
		"HELP": {fn: (*session).handleHelp, open: true},
		"CLNT": {fn: (*session).handleNoop, open: true},
		"ALLO": {fn: (*session).handleAllo},

		// dirs.go: names and directories
		"PWD":  {fn: (*session).handlePwd, arg: argNone},
		"XPWD": {fn: (*session).handlePwd, arg: argNone},
		"CWD":  {fn: (*session).handleCwd},
		"XCWD": {fn: (*session).handleCwd},
		"CDUP": {fn: (*session).handleCdup, arg: argNone},
		"XCUP": {fn: (*session).handleCdup, arg: argNone},
		"MKD":  {fn: (*session).handleMkd, arg: argRequired},
		"XMKD": {fn: (*session).handleMkd, arg: argRequired},
		"RMD":  {fn: (*session).handleRmd, arg: argRequired},
		"XRMD": {fn: (*session).handleRmd, arg: argRequired},
		"DELE": {fn: (*session).handleDele, arg: argRequired},
		"RNFR": {fn: (*session).handleRnfr, arg: argRequired},
		"RNTO": {fn: (*session).handleRnto, arg: argRequired},
		"SIZE": {fn: (*session).handleSize, arg: argRequired},
		"MDTM": {fn: (*session).handleMdtm, arg: argRequired},
		"MFMT": {fn: (*session).handleMfmt, arg: argRequired},
		"MLST": {fn: (*session).handleMlst},
		"STAT": {fn: (*session).handleStat},

		// list.go: listings over a data connection
		"LIST": {fn: (*session).handleList},
		"NLST": {fn: (*session).handleNlst},
		"MLSD": {fn: (*session).handleMlsd},

		// data.go: data connections and their representation
		"PASV": {fn: (*session).handlePasv, arg: argNone},
		"EPSV": {fn: (*session).handleEpsv},
		"PORT": {fn: (*session).handlePort, arg: argRequired},
		"EPRT": {fn: (*session).handleEprt, arg: argRequired},
		"TYPE": {fn: (*session).handleType, arg: argRequired},
		"MODE": {fn: (*session).handleMode, arg: argRequired},
		"STRU": {fn: (*session).handleStru, arg: argRequired},

		// transfer.go: files
		"RETR": {fn: (*session).handleRetr, arg: argRequired},
		"STOR": {fn: (*session).handleStor, arg: argRequired},
		"APPE": {fn: (*session).handleAppe, arg: argRequired},
		"REST": {fn: (*session).handleRest, arg: argRequired},
		"ABOR": {fn: (*session).handleAbor, arg: argNone},
		"XMD5": {fn: (*session).handleXmd5, arg: argRequired},
		"HASH": {fn: (*session).handleHash, arg: argRequired},
	}
}

// sortedVerbs returns the verbs of the table in order, for HELP.
func sortedVerbs() []string {
	verbs := make([]string, 0, len(commands))
	for v := range commands {
		verbs = append(verbs, v)
	}
	slices.Sort(verbs)
	return verbs
}
