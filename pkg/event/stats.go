package event

// Stat mirrors enum httptrace_stat: the index of a counter in the stats map.
type Stat uint32

// The counters, in the C enum's order (checked by a test).
const (
	StatSocketsTracked Stat = iota
	StatSocketsClosed
	StatReads
	StatReadReturns
	StatReturnsMissed
	StatNotHTTP
	StatReadUserFailed
	StatEventsSent
	StatEventsDropped
	StatCount
)

// StatNames are the counters' names in logs and summaries.
var StatNames = [StatCount]string{
	StatSocketsTracked: "sockets_tracked",
	StatSocketsClosed:  "sockets_closed",
	StatReads:          "reads",
	StatReadReturns:    "read_returns",
	StatReturnsMissed:  "returns_missed",
	StatNotHTTP:        "not_http",
	StatReadUserFailed: "read_user_failed",
	StatEventsSent:     "events_sent",
	StatEventsDropped:  "events_dropped",
}
