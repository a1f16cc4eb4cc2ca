// Connections the table dropped, remembered by id and generation (a
// memory for those that may resume, one for those that closed): one
// dropped for idleness or for room that speaks again resumes at its
// positions instead of reporting its history as a gap, and a record of one
// that closed is late.
package exchange

import (
	"github.com/httptrace/httptrace/pkg/record"
)

// droppedMax bounds the connections remembered; the oldest is forgotten first.
const droppedMax = 4096

// droppedConn is what a resumed connection needs of its dropped self.
type droppedConn struct {
	id, gen uint64
	stopped bool      // it was no longer parsed (an upgrade, a tunnel)
	hinted  bool      // skips were given for it (conn.gaveSkips)
	next    [2]uint64 // each direction's next stream position
	side    record.Side
	http2   bool // it was read as HTTP/2
}

// droppedMemory is a bounded FIFO of dropped connections, indexed by id.
type droppedMemory struct {
	byID map[uint64]int // index into ring
	ring []droppedConn
	head int // next slot to write once the ring is full
}

// remember keeps what c, just closed, needs to resume.
func (m *droppedMemory) remember(c *conn) {
	_, h2 := c.proto.(*h2conn)
	m.add(droppedConn{id: c.id, gen: c.gen, stopped: c.stopped, hinted: c.gaveSkips, side: c.side, http2: h2,
		next: [2]uint64{c.dirs[0].s.Next(), c.dirs[1].s.Next()}})
}

// add keeps e, forgetting the oldest entry when full.
func (m *droppedMemory) add(e droppedConn) {
	if m.byID == nil {
		m.byID = make(map[uint64]int)
	}
	if i, ok := m.byID[e.id]; ok {
		m.ring[i] = e
		return
	}
	if len(m.ring) < droppedMax {
		m.byID[e.id] = len(m.ring)
		m.ring = append(m.ring, e)
		return
	}
	if j, ok := m.byID[m.ring[m.head].id]; ok && j == m.head {
		delete(m.byID, m.ring[m.head].id)
	}
	m.ring[m.head] = e
	m.byID[e.id] = m.head
	m.head = (m.head + 1) % droppedMax
}

// lookup returns the remembered connection id of generation gen.
func (m *droppedMemory) lookup(id, gen uint64) (droppedConn, bool) {
	i, ok := m.byID[id]
	if !ok || m.ring[i].gen != gen {
		return droppedConn{}, false
	}
	return m.ring[i], true
}

// forget drops what is remembered of id.
func (m *droppedMemory) forget(id uint64) {
	delete(m.byID, id)
}

// resume puts c, just reset for a record, back where its dropped self was:
// each direction that had begun continues at its position, with a parser
// that looks for the next message, and the side it had.
func (c *conn) resume(was droppedConn) {
	for i := range c.dirs {
		dr := &c.dirs[i]
		if was.next[i] == 0 {
			continue
		}
		dr.s.ResetAt(c.t.limits, was.next[i])
		dr.p.Reset(c.t.parserLimits(), true)
		dr.end = was.next[i]
	}
	c.adopted, c.unsure = true, true
	if was.side != "" {
		c.setSide(was.side)
	}
	if was.http2 { // joined again mid-way: its HPACK tables are not known
		c.opened = true
		c.useHTTP2(clientDir(c.side), false)
		c.decide(c.h2)
	}
	if was.stopped { // a tunnel's bytes are not HTTP
		c.stopped = true
		c.dirs[0].p.Stop()
		c.dirs[1].p.Stop()
	}
}
