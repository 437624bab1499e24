package home

// A Ledger keeps a quota account outside this process, where every server
// sharing a store sees it: an object store keeps one usage object per
// tree, changed only by conditional writes (package s3home). Its methods
// mean what the local account's do (quota.go), and a reservation is
// promised across all servers: used plus every server's reservations
// never pass the limit. Commit may fail to reach the store; it then
// leaves more counted than is stored, never less.
type Ledger interface {
	Reserve(n int64) error                     // ErrQuota when used+reserved+n would pass the limit
	Release(n int64)                           // give back reserved bytes that will not be used
	Commit(reserved, delta int64) error        // release reserved, add delta to used (a negative reserved takes a reservation back)
	CommitChecked(reserved, delta int64) error // Commit, refused with ErrQuota when used would pass the limit
	SetLimit(limit int64)                      // the limit in force (the accounts file may change)
	Snapshot() (used, reserved, limit int64)   // reserved: by every server
	Close() error                              // give back what this server holds; the Ledger is done
}

// A LedgerFS is an FS whose quota account is a Ledger shared with other
// servers, rather than one this process computes from Usage and keeps.
type LedgerFS interface {
	FS
	Ledger(limit int64) (Ledger, error)
}

// newAccountOf returns the account of the tree fsys: its Ledger when it
// has one, else a local account of its usage.
func newAccountOf(fsys FS, limit int64) (*account, error) {
	if lf, ok := fsys.(LedgerFS); ok {
		l, err := lf.Ledger(limit)
		if err != nil {
			return nil, err
		}
		return &account{ledger: l}, nil
	}
	used, err := fsys.Usage()
	if err != nil {
		return nil, err
	}
	return newAccount(used, limit), nil
}

// close gives back what a Ledger holds; a local account has nothing to
// give back.
func (a *account) close() {
	if a.ledger != nil {
		a.ledger.Close()
	}
}
