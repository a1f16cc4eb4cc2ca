package container

import (
	"context"
	"strings"
	"testing"
)

// TestDecodeEvents reads event streams as Docker and podman write them
// (fixtures: this test claims nothing of a runtime; the end-to-end tests
// run podman's).
func TestDecodeEvents(t *testing.T) {
	stream := strings.Join([]string{
		// podman 4's compat stream
		`{"status":"create","id":"` + id + `","from":"img","Type":"container","Action":"create","Actor":{"ID":"` + id + `","Attributes":{"name":"web"}}}`,
		`{"status":"start","id":"` + id + `","Type":"container","Action":"start","Actor":{"ID":"` + id + `","Attributes":{"name":"web"}}}`,
		`{"status":"restart","id":"` + id + `","Type":"container","Action":"restart","Actor":{"ID":"` + id + `","Attributes":{"name":"web"}}}`,
		`{"status":"died","id":"` + id + `","Type":"container","Action":"died","Actor":{"ID":"` + id + `","Attributes":{"name":"web"}}}`,
		// Docker's (Action and Actor; status and id kept for old clients)
		`{"Type":"container","Action":"start","Actor":{"ID":"` + id2 + `","Attributes":{"image":"x","name":"api"}},"scope":"local","time":1}`,
		`{"status":"die","id":"` + id2 + `","Type":"container","Action":"die","Actor":{"ID":"` + id2 + `","Attributes":{"exitCode":"0","name":"api"}}}`,
		// an old Docker's: status and id only
		`{"status":"start","id":"` + id2 + `","from":"x","time":1}`,
		`{"Type":"container","Action":"exec_start: sh","Actor":{"ID":"` + id2 + `","Attributes":{"name":"api"}}}`,
	}, "\n")
	var got []Event
	err := decodeEvents(context.Background(), "sock", strings.NewReader(stream), func(e Event) { got = append(got, e) })
	want := []Event{{id, "web", true}, {id, "web", true}, {id, "web", false}, {id2, "api", true}, {id2, "api", false}, {id2, "", true}}
	if len(got) != len(want) {
		t.Fatalf("events %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if err == nil || !strings.Contains(err.Error(), "the event stream ended") {
		t.Errorf("end of stream: %v", err)
	}
}
