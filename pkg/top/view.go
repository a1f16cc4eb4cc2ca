// The terminal view: a bubbletea program over the aggregation.
package top

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/httptrace/httptrace/pkg/aggregate"
)

// Interval is how often the view is refreshed.
const Interval = time.Second

// Options configure a View.
type Options struct {
	In  io.Reader // the terminal's keys
	Out io.Writer // the terminal
	// Quit is called when the user quits (q, ctrl-c): the tracing stops.
	Quit func()
	// Status is a line under the header: what the tracer is doing (nil:
	// none).
	Status func() string
	// Failed is told why the view could not run (the tracing stops too).
	Failed func(error)
}

// View is the live view of one aggregation.
type View struct {
	prog *tea.Program
	done chan struct{}
	stop sync.Once
}

// Start shows agg in the terminal until Stop, or until the user quits.
func Start(agg *aggregate.Aggregator, opts Options) *View {
	m := &model{agg: agg, opts: opts, last: time.Now()}
	m.prev = agg.Snapshot(nil)
	v := &View{done: make(chan struct{})}
	v.prog = tea.NewProgram(m, tea.WithInput(opts.In), tea.WithOutput(opts.Out), tea.WithAltScreen(),
		tea.WithoutSignalHandler())
	go func() {
		defer close(v.done)
		if _, err := v.prog.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
			if opts.Failed != nil {
				opts.Failed(err)
			}
			if opts.Quit != nil {
				opts.Quit()
			}
		}
	}()
	return v
}

// Stop ends the view and gives the terminal back; again, it does nothing.
func (v *View) Stop() {
	v.stop.Do(func() {
		v.prog.Quit()
		<-v.done
	})
}

// Kill ends the view at once (an exit follows) and gives the terminal back.
func (v *View) Kill() {
	v.stop.Do(func() {
		v.prog.Kill()
		<-v.done
	})
}

// tick is the refresh's message.
type tick time.Time

// model is the view's state.
type model struct {
	agg     *aggregate.Aggregator
	opts    Options
	prev    []aggregate.Series
	cur     []aggregate.Series
	last    time.Time
	rows    []Row
	order   Order
	reverse bool
	width   int
	height  int
}

func (m *model) Init() tea.Cmd { return next() }

// next asks for the next refresh.
func next() tea.Cmd { return tea.Tick(Interval, func(t time.Time) tea.Msg { return tick(t) }) }

func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tick:
		now := time.Time(msg)
		m.cur = m.agg.Snapshot(m.cur)
		m.rows = Rows(m.prev, m.cur, now.Sub(m.last))
		Sort(m.rows, m.order, m.reverse)
		m.prev, m.cur = m.cur, m.prev
		m.last = now
		return m, next()
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyMsg:
		keys := map[string]Order{"r": ByRate, "e": ByErrors, "l": ByLatency, "b": ByBytes, "n": ByName}
		switch k := msg.String(); k {
		case "q", "ctrl+c":
			if m.opts.Quit != nil {
				m.opts.Quit()
			}
			return m, tea.Quit
		default:
			if o, ok := keys[k]; ok {
				// The same key again reverses the order.
				m.reverse = o == m.order && !m.reverse
				m.order = o
				Sort(m.rows, m.order, m.reverse)
			}
		}
	}
	return m, nil
}

func (m *model) View() string {
	var b strings.Builder
	var total, rate float64
	for _, r := range m.rows {
		total += float64(r.Total)
		rate += r.Rate
	}
	dir := ""
	if m.reverse {
		dir = ", reversed"
	}
	fmt.Fprintf(&b, "httptrace top: %d routes, %.0f exchanges, %.1f/s; sorted by %s%s (keys r e l b n; q quits)\n",
		len(m.rows), total, rate, m.order, dir)
	if m.opts.Status != nil {
		b.WriteString(m.opts.Status())
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "%-16s %-6s %-32s %9s %6s %8s %8s %8s %10s %8s\n",
		"SERVICE", "SIDE", "ROUTE", "REQ/S", "ERR%", "P50", "P90", "P99", "BYTES/S", "TOTAL")
	// The rows the terminal has room for (before its size is known: all),
	// and a line saying how many more there are.
	room := len(m.rows)
	if m.height > 0 {
		room = max(0, min(room, m.height-4))
	}
	for _, r := range m.rows[:room] {
		fmt.Fprintf(&b, "%-16s %-6s %-32s %9.1f %6.1f %8s %8s %8s %10s %8d\n",
			cut(r.Service, 16), r.Side, cut(r.Route, 32), r.Rate, r.ErrPct, ms(r.P50), ms(r.P90), ms(r.P99), bytes(r.BytesRate), r.Total)
	}
	if more := len(m.rows) - room; more > 0 {
		fmt.Fprintf(&b, "(%d more rows: a taller terminal shows them)\n", more)
	}
	return b.String()
}

// cut is s in at most n columns, its end marked when cut, with every
// control character (a client's path may carry escape sequences) shown
// as '?'.
func cut(s string, n int) string {
	r := []rune(strings.Map(func(c rune) rune {
		if unicode.IsControl(c) || c == utf8.RuneError {
			return '?'
		}
		return c
	}, s))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "~"
}

// ms is a duration in seconds as milliseconds ("-" for none).
func ms(s float64) string {
	if s == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", s*1e3)
}

// bytes is a rate with a binary unit.
func bytes(v float64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.1fG", v/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1fM", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1fK", v/(1<<10))
	}
	return fmt.Sprintf("%.0f", v)
}
