package event

// Stat mirrors enum httptrace_stat: the index of a counter in the stats map.
type Stat uint32

// The counters, in the C enum's order (checked by a test).
const (
	StatCalls Stat = iota
	StatReturnsMissed
	StatConnsAdopted
	StatConnsAccepted
	StatConnsConnected
	StatConnsClosed
	StatConnsLost
	StatRecordsSent
	StatRecordsDropped
	StatReadUserFailed
	StatIovCut
	StatSkips
	StatProcsTracked
	StatProcsExited
	StatTrackFailed
	StatConnsFromStart
	StatCallsNotSaved
	StatPeeks
	StatUnseen
	StatPosBehind
	StatConnsReplaced
	StatConnsEnded
	StatFdReplaced
	StatNotHTTP
	StatConnsUnselected
	StatUnselected
	StatPortListeners
	StatTLSConns
	StatTLSCiphertext
	StatTLSCalls
	StatTLSUnplaced
	StatTLSMapped
	StatH2Cut
	StatTLSWriteFailed
	StatTLSReturnsUnsaved
	StatCount
)

// StatNames are the counters' names in logs and summaries.
var StatNames = [StatCount]string{
	StatCalls:             "calls",
	StatReturnsMissed:     "returns_missed",
	StatConnsAdopted:      "conns_adopted",
	StatConnsAccepted:     "conns_accepted",
	StatConnsConnected:    "conns_connected",
	StatConnsClosed:       "conns_closed",
	StatConnsLost:         "conns_lost",
	StatRecordsSent:       "records_sent",
	StatRecordsDropped:    "records_dropped",
	StatReadUserFailed:    "read_user_failed",
	StatIovCut:            "iov_cut",
	StatSkips:             "skips",
	StatProcsTracked:      "procs_tracked",
	StatProcsExited:       "procs_exited",
	StatTrackFailed:       "track_failed",
	StatConnsFromStart:    "conns_from_start",
	StatCallsNotSaved:     "calls_not_saved",
	StatPeeks:             "peeks",
	StatUnseen:            "unseen",
	StatPosBehind:         "pos_behind",
	StatConnsReplaced:     "conns_replaced",
	StatConnsEnded:        "conns_ended",
	StatFdReplaced:        "fd_replaced",
	StatNotHTTP:           "not_http",
	StatConnsUnselected:   "conns_unselected",
	StatUnselected:        "unselected",
	StatPortListeners:     "port_listeners",
	StatTLSConns:          "tls_conns",
	StatTLSCiphertext:     "tls_ciphertext",
	StatTLSCalls:          "tls_calls",
	StatTLSUnplaced:       "tls_unplaced",
	StatTLSMapped:         "tls_mapped",
	StatH2Cut:             "h2_cut",
	StatTLSWriteFailed:    "tls_write_failed",
	StatTLSReturnsUnsaved: "tls_returns_unsaved",
}

func (s Stat) String() string {
	if s < StatCount {
		return StatNames[s]
	}
	return "unknown"
}
