package main

import "testing"

// h2loadReport is h2load 1.52's report of a timed run.
const h2loadReport = `starting benchmark...
spawning thread #0: 20 total client(s). Timing-based test with 0s of warm-up time and 5s of main duration for measurements.
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 5.00s, 41234.60 req/s, 2.16MB/s
requests: 206173 total, 206373 started, 206173 done, 206170 succeeded, 3 failed, 0 errored, 0 timeout
status codes: 206170 2xx, 0 3xx, 0 4xx, 2 5xx
traffic: 10.82MB (11346213) total, 604.52KB (619023) headers (space savings 95.71%), 3.34MB (3504941) data
                     min         max         mean         sd        +/- sd
time for request:      108us     13.73ms       4.79ms      1.09ms    80.45%
`

func TestParseH2load(t *testing.T) {
	r, err := parseH2load(h2loadReport)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 206173 || r.RPS != 41234.60 || r.Errors != "3 failed (0 errored, 0 timed out; 0 4xx, 2 5xx)" {
		t.Errorf("parsed %+v", r)
	}
	for _, bad := range []string{"", "finished in 5.00s, 1 req/s\n", "requests: 1 total, 1 started, 1 done, 1 succeeded, 0 failed, 0 errored, 0 timeout\n"} {
		if _, err := parseH2load(bad); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}
