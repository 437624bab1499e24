package server

import "ftpx/protocol"

// action is one entry of the action table. open marks the actions allowed
// before authentication; the dispatcher checks it, not the handlers.
type action struct {
	fn   func(*session, *protocol.Request) error
	open bool
}

// actions maps every action name to its handler. A handler answers the
// request itself; its error is returned only when the session must end
// (the client can no longer be reached or the stream is out of sync).
var actions map[string]action

func init() {
	actions = map[string]action{
		protocol.ActionAuth:  {fn: (*session).handleAuth, open: true},
		protocol.ActionQuit:  {fn: (*session).handleQuit, open: true},
		protocol.ActionLs:    {fn: (*session).handleLs},
		protocol.ActionTree:  {fn: (*session).handleTree},
		protocol.ActionCd:    {fn: (*session).handleCd},
		protocol.ActionPwd:   {fn: (*session).handlePwd},
		protocol.ActionStat:  {fn: (*session).handleStat},
		protocol.ActionMkdir: {fn: (*session).handleMkdir},
		protocol.ActionGet:   {fn: (*session).handleGet},
		protocol.ActionPut:   {fn: (*session).handlePut},

		protocol.ActionBreakpoint: {fn: (*session).handleBreakpoint},
		protocol.ActionRm:         {fn: (*session).handleRm},
		protocol.ActionMv:         {fn: (*session).handleMv},
		protocol.ActionQuota:      {fn: (*session).handleQuota},
		protocol.ActionStartTLS:   {fn: (*session).handleStartTLS, open: true},
		protocol.ActionCancel:     {fn: (*session).handleCancel},
		protocol.ActionSignature:  {fn: (*session).handleSignature},
	}
}
