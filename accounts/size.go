package accounts

import "ftpx/protocol"

// Unlimited is the quota of a user without a limit (no quota key, or
// "unlimited").
const Unlimited = protocol.Unlimited
