// Connections dropped for idleness, remembered so that one that speaks
// again resumes at its positions instead of reporting its history as a gap.
package exchange

import (
	"github.com/httptrace/httptrace/pkg/record"
)

// idleMax bounds the connections remembered; the oldest is forgotten first.
const idleMax = 4096

// idleConn is what a resumed connection needs of its dropped self.
type idleConn struct {
	id, gen uint64
	next    [2]uint64 // each direction's next stream position
	side    record.Side
}

// idleMemory is a bounded FIFO of dropped connections, indexed by id.
type idleMemory struct {
	byID map[uint64]int // index into ring
	ring []idleConn
	head int // next slot to write once the ring is full
}

// remember keeps what c needs to resume.
func (m *idleMemory) remember(c *conn) {
	if m.byID == nil {
		m.byID = make(map[uint64]int)
	}
	e := idleConn{id: c.id, gen: c.gen, side: c.side,
		next: [2]uint64{c.dirs[0].s.Next(), c.dirs[1].s.Next()}}
	if i, ok := m.byID[c.id]; ok {
		m.ring[i] = e
		return
	}
	if len(m.ring) < idleMax {
		m.byID[c.id] = len(m.ring)
		m.ring = append(m.ring, e)
		return
	}
	if j, ok := m.byID[m.ring[m.head].id]; ok && j == m.head {
		delete(m.byID, m.ring[m.head].id)
	}
	m.ring[m.head] = e
	m.byID[c.id] = m.head
	m.head = (m.head + 1) % idleMax
}

// take returns and forgets the remembered connection id of generation gen.
func (m *idleMemory) take(id, gen uint64) (idleConn, bool) {
	i, ok := m.byID[id]
	if !ok || m.ring[i].gen != gen {
		return idleConn{}, false
	}
	delete(m.byID, id)
	return m.ring[i], true
}

// resume puts c, just reset for a record, back where its dropped self was:
// each direction that had begun continues at its position, with a parser
// that looks for the next message, and the side it had.
func (c *conn) resume(was idleConn) {
	for i := range c.dirs {
		dr := &c.dirs[i]
		if was.next[i] == 0 {
			continue
		}
		dr.s.ResetAt(c.t.limits, was.next[i])
		dr.p.Reset(c.t.parserLimits(), true)
	}
	c.adopted, c.unsure = true, true
	if was.side != "" {
		c.setSide(was.side)
	}
}
