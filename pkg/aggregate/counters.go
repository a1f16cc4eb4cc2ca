package aggregate

// Counter is one of httptrace's own counts, as every exporter sends it:
// Prometheus as httptrace_<Name>_total, OTLP as httptrace.<Name>.
type Counter struct {
	Name  string
	Help  string
	Value uint64
}

// Counters are the aggregation's own counts.
func (a *Aggregator) Counters() []Counter {
	st := a.Stats()
	return []Counter{
		{"exchanges", "Exchanges aggregated (before the filter).", st.Exchanges},
		{"incomplete", "Requests with no response (not in the histograms).", st.Incomplete},
		{"unmatched", "Responses with no request (not in the histograms).", st.Unmatched},
		{"gaps", "Exchanges with bytes never seen.", st.Gaps},
		{"route_overflow", "Exchanges whose route was past the per-service cap, labelled /**.", st.RouteOverflow},
		{"route_unknown_404", "404 responses to paths of no known route, labelled /** (a scanner's paths would fill the cap).", st.Route404},
		{"server_address_overflow", "Exchanges whose server address (Host) was past the per-service cap, labelled _OTHER.", st.HostOverflow},
		{"series_expired", "Series dropped after metrics.ttl without an update.", st.Expired},
	}
}
