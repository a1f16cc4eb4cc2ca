package top

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/httptrace/httptrace/pkg/aggregate"
)

// key is a key press.
func key(k string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)} }

// TestModel: a refresh makes the rows; a sort key orders them and the same
// key again reverses; a terminal too short for every row says how many
// more there are; a route's control characters never reach the terminal;
// q quits and calls Quit.
func TestModel(t *testing.T) {
	agg := aggregate.New(aggregate.Options{})
	m := &model{agg: agg, last: time.Now()}
	quit := false
	m.opts.Quit = func() { quit = true }
	m.prev = agg.Snapshot(nil)
	for i, path := range []string{"/a", "/b", "/c", "/d\x1b[2J\x07x"} {
		for range i + 1 {
			agg.Write(exchange("svc", path, 200, time.Millisecond, 0))
		}
	}
	m.Update(tick(m.last.Add(time.Second)))
	if len(m.rows) != 4 || !strings.HasPrefix(m.rows[0].Route, "/d\x1b") {
		t.Fatalf("rows %+v, want 4, the busiest first", m.rows)
	}
	m.Update(key("n"))
	if m.order != ByName || m.reverse || m.rows[0].Route != "/a" {
		t.Errorf("after n: order %v reversed %v first %q", m.order, m.reverse, m.rows[0].Route)
	}
	m.Update(key("n"))
	if !m.reverse || m.rows[0].Route == "/a" {
		t.Errorf("after n again: reversed %v first %q", m.reverse, m.rows[0].Route)
	}
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 6})
	v := m.View()
	if strings.ContainsAny(v, "\x1b\x07") {
		t.Errorf("the view carries a control character: %q", v)
	}
	if !strings.Contains(v, "(2 more rows") || strings.Count(v, "svc ") != 2 {
		t.Errorf("a terminal of 6 lines shows:\n%s\nwant 2 rows and the count of the 2 more", v)
	}
	if _, cmd := m.Update(key("q")); cmd == nil || !quit {
		t.Errorf("q: quit called %v, command %v", quit, cmd)
	}
}
