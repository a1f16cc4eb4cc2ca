// The memory the parsers of a tracker may keep between them, beyond a
// small floor each.
package httpparse

import "unsafe"

// Budget bounds the buffer memory that the parsers sharing it keep for
// header sections beyond a small floor each (what a common message needs):
// the bytes of a header section in progress and of a line split across
// reads. A parser that would grow past the budget stores no more of the
// header section in progress (the message is Truncated; its framing is
// still read). A parser between messages gives back what it holds beyond
// its floor (Trim), and one that is dropped gives back everything
// (Release). The zero Max means no bound.
type Budget struct {
	Max     int64
	used    int64
	Refused uint64 // header lines (or line parts) not stored for want of budget
}

// Take charges n bytes kept by something other than a parser (HTTP/2's
// decoded header fields) to the budget; when they do not fit it counts a
// refusal and reports false, and they are not to be kept.
func (b *Budget) Take(n int64) bool {
	if b == nil {
		return true
	}
	if b.Max > 0 && b.used+n > b.Max {
		b.Refused++
		return false
	}
	b.used += n
	return true
}

// Give returns n bytes taken with Take.
func (b *Budget) Give(n int64) {
	if b != nil {
		b.used -= n
	}
}

// Used is what the parsers hold beyond their floors.
func (b *Budget) Used() int64 { return b.used }

// The floors: what each buffer of a parser may hold outside the budget.
const (
	floorHead   = 1024 // header section bytes
	floorLine   = 256  // bytes of one line split across reads
	floorFields = 32   // header fields
)

// fieldSize is the memory of one stored header field.
const fieldSize = int(unsafe.Sizeof(Field{}))

// over is how far n is above floor, never below 0.
func over(n, floor int) int64 { return int64(max(n-floor, 0)) }

// charge is what p's buffers hold beyond their floors.
func (p *Parser) charge() int64 {
	return over(cap(p.line), floorLine) + over(cap(p.msg.head), floorHead) +
		over(cap(p.msg.Fields), floorFields)*int64(fieldSize)
}

// account brings the budget up to date with p's buffers.
func (p *Parser) account() {
	if p.lim.Budget == nil {
		return
	}
	c := p.charge()
	p.lim.Budget.used += c - p.charged
	p.charged = c
}

// room reports whether a buffer of length n and capacity c (floor floor,
// elem bytes an element) may grow by add elements within the budget.
func (p *Parser) room(n, c, add, floor, elem int) bool {
	b := p.lim.Budget
	if b == nil || b.Max <= 0 || n+add <= c {
		return true
	}
	grown := max(n+add, 2*c) // what append gives, near enough
	extra := (over(grown, floor) - over(c, floor)) * int64(elem)
	if extra <= 0 || b.used+extra <= b.Max {
		return true
	}
	b.Refused++
	return false
}

// Trim gives back what p holds beyond its floors, when it is between
// messages (or scanning for one, or holding after an upgrade request); a
// message in progress keeps its buffers.
func (p *Parser) Trim() {
	if p.charged == 0 || (p.st != stIdle && p.st != stResync && p.st != stHold) || p.next != None {
		return
	}
	p.shrink()
}

// Release gives back everything p holds beyond its floors, whatever its
// state: p is being dropped or reset for another stream.
func (p *Parser) Release() {
	if p.charged != 0 {
		p.shrink()
	}
}

func (p *Parser) shrink() {
	if cap(p.line) > floorLine {
		p.line = nil
	}
	if cap(p.msg.head) > floorHead {
		p.msg.head = nil
	}
	if cap(p.msg.Fields) > floorFields {
		p.msg.Fields = nil
	}
	p.account()
}
