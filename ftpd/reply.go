package ftpd

import (
	"errors"

	"ftpx/home"
	"ftpx/server"
)

// codeFor is the one place where an error becomes an FTP reply code, with
// the text that says what went wrong (never a path of the server's own).
func codeFor(err error) (int, string) {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.code, k.err.Error()
		}
	}
	return 451, "local error in processing"
}

// kinds are checked in order: the first that err wraps gives the code.
var kinds = []struct {
	err  error
	code int
}{
	{home.ErrQuota, 552},        // exceeded storage allocation
	{home.ErrNoSpace, 452},      // insufficient storage space in system (the disk, not the quota)
	{home.ErrNotExist, 550},     // file unavailable
	{home.ErrOutside, 550},      // the jail: nothing outside the home exists
	{home.ErrPermission, 550},   // read, write or modify missing
	{home.ErrCrossFolder, 550},  // a rename between trees
	{home.ErrNotDir, 550},       //
	{home.ErrIsDir, 550},        //
	{home.ErrExists, 550},       //
	{home.ErrNotEmpty, 550},     //
	{home.ErrBadPath, 553},      // file name not allowed
	{home.ErrBadOffset, 554},    // invalid REST parameter
	{home.ErrBusy, 450},         // another connection is uploading it: try again
	{home.ErrUnavailable, 451},  // the object store is down: try again later
	{home.ErrForeign, 550},      //
	{server.ErrWrongLogin, 530}, // not logged in
	{server.ErrBadAuthData, 530},
	{server.ErrBanned, 530},
	{server.ErrTooManySessions, 530},
}
