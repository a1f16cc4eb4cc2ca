// Package httpparse is an incremental HTTP/1.0 and 1.1 parser for one
// direction of a connection. It takes bytes in chunks split anywhere and
// explicit notices of bytes not seen, and reports what it finds as events;
// after lost framing it scans forward for the next start line.
package httpparse

import "bytes"

// Event is what a call to the parser found.
type Event uint8

// The events. Feed and Skip return at each event other than None, with
// the bytes consumed up to it; the caller handles it and calls again with
// the rest (even when no bytes are left: events can be queued).
const (
	None   Event = iota // the input was consumed
	Begin               // the first byte of a possible start line was consumed
	Head                // a start line and header section are complete
	End                 // a message is complete or cut short (Message.Cut)
	Desync              // framing was lost: messages may have been missed
)

// Want says which messages a parser accepts.
type Want uint8

// The wants.
const (
	Any       Want = iota // requests or responses (the side is not known yet)
	Requests              // only requests
	Responses             // only responses
)

// Limits bound what the parser keeps.
type Limits struct {
	MaxHeaderBytes   int     // header section bytes stored; longer sections are truncated
	CaptureBodyBytes int     // body bytes kept in Message.Body
	Budget           *Budget // shared by the parsers of a tracker; nil: no bound
}

type state uint8

const (
	stIdle       state = iota // in sync, between messages
	stResync                  // scanning for a start line
	stStart                   // reading a start line
	stHeaders                 // reading header lines
	stBody                    // reading a body of known length
	stChunkSize               // reading a chunk-size line
	stChunkData               // reading chunk data
	stChunkEnd                // reading the line end after chunk data
	stTrailers                // reading trailer lines
	stUntilClose              // reading a body that ends at close
	stHold                    // after a CONNECT or Upgrade request, until its answer
	stStopped                 // no longer HTTP (tunnel, upgrade) or closed
)

// Parser reads one direction of one connection. The zero value is not
// usable; call Reset.
type Parser struct {
	// Want filters the messages accepted.
	Want Want
	// Answers is the kind of request the next response answers; the caller
	// sets it before feeding response bytes.
	Answers MethodKind
	// SniffBody, set by the caller, ends a message whose announced body
	// starts with the start line of another: a response's, while the
	// caller is unsure which request it answers (it answered a HEAD the
	// caller could not know of); a request's, once its answer came early
	// (the client dropped the body and sent its next request).
	SniffBody bool
	// Skipped counts bytes outside any message: scanned over while
	// resynchronising, held or after the parser stopped.
	Skipped uint64

	lim        Limits
	st         state
	candidate  bool // the message in progress was found by scanning
	atBoundary bool // while scanning: the next byte may start a line
	line       []byte
	lineOver   bool
	lineTotal  uint64
	msg        Message
	rem        uint64
	next       Event
	held       uint64
	bad        bool  // a framing header was invalid
	teOther    bool  // a transfer coding other than chunked is last
	charged    int64 // what this parser's buffers hold of Limits.Budget
	sawCL      bool  // a Content-Length header was seen
	sawTE      bool  // a Transfer-Encoding header was seen
	inFraming  bool  // the last header line was a framing header (a fold continues it)
}

// Reset prepares p for a new stream, keeping its buffers. A stream picked
// up in the middle (adopted) starts by scanning for a start line.
func (p *Parser) Reset(lim Limits, adopted bool) {
	if lim.MaxHeaderBytes < 256 {
		lim.MaxHeaderBytes = 256
	}
	*p = Parser{lim: lim, line: p.line[:0], charged: p.charged,
		msg: Message{Body: p.msg.Body[:0], head: p.msg.head[:0], Fields: p.msg.Fields[:0]}}
	if adopted {
		p.st, p.atBoundary = stResync, true
	}
}

// Msg is the message of the last Begin, Head or End.
func (p *Parser) Msg() *Message { return &p.msg }

// InBody reports whether the parser is past a message's header section and
// in its body: the message's head (Msg) is complete, its end to come.
func (p *Parser) InBody() bool {
	switch p.st {
	case stBody, stChunkSize, stChunkData, stChunkEnd, stTrailers, stUntilClose:
		return true
	}
	return false
}

// Idle reports whether the parser is in sync between two messages.
func (p *Parser) Idle() bool { return p.st == stIdle && p.next == None }

// RecordBoundary tells a scanning parser that the next byte starts a new
// syscall's bytes, a plausible place for a message to start.
func (p *Parser) RecordBoundary() {
	if p.st == stResync {
		p.atBoundary = true
	}
}

// Stopped reports whether the parser no longer reads HTTP.
func (p *Parser) Stopped() bool { return p.st == stStopped }

// Stop makes the parser ignore the rest of the stream.
func (p *Parser) Stop() { p.st, p.next = stStopped, None }

// Resume ends the hold after a CONNECT or Upgrade request that was not
// accepted. It reports whether bytes were dropped meanwhile, in which case
// the parser scans for the next start line.
func (p *Parser) Resume() bool {
	if p.st != stHold {
		return false
	}
	if p.held > 0 {
		p.st, p.atBoundary = stResync, false
		return true
	}
	p.st = stIdle
	return false
}

// BodyRemaining is how many body (or chunk data) bytes the parser knows
// are still to come in the current message.
func (p *Parser) BodyRemaining() (uint64, bool) {
	if p.st == stBody || p.st == stChunkData {
		return p.rem, true
	}
	return 0, false
}

// CaptureDone reports whether the body capture of the current message is full.
func (p *Parser) CaptureDone() bool { return len(p.msg.Body) >= p.lim.CaptureBodyBytes }

// hardHeaderLimit is where a header section that does not end is taken
// for something that is not HTTP. Up to it, a section longer than
// MaxHeaderBytes is counted, not kept, and its message logged truncated:
// servers accept header lines of 64 KiB and more.
func (p *Parser) hardHeaderLimit() uint64 { return uint64(max(64*p.lim.MaxHeaderBytes, 1<<20)) }

// Feed consumes bytes up to the next event.
func (p *Parser) Feed(b []byte) (int, Event) {
	if ev := p.next; ev != None {
		p.next = None
		return 0, ev
	}
	n := 0
	for n < len(b) {
		var k int
		ev := None
		switch p.st {
		case stIdle:
			if c := b[n]; c == '\r' || c == '\n' {
				p.Skipped++
				n++
				continue
			}
			p.begin(false)
			return n, Begin
		case stResync:
			k, ev = p.scan(b[n:])
		case stStart, stHeaders, stChunkSize, stChunkEnd, stTrailers:
			k, ev = p.lineStep(b[n:])
		case stBody, stChunkData:
			k, ev = p.bodyStep(b[n:])
		case stUntilClose:
			k = len(b) - n
			p.capture(b[n:])
			p.msg.WireBytes += uint64(k)
			p.msg.BodyBytes += uint64(k)
		default: // stHold, stStopped
			k = len(b) - n
			p.held += uint64(k)
			p.Skipped += uint64(k)
		}
		n += k
		if ev != None {
			return n, ev
		}
	}
	return n, None
}

// Skip accounts for n bytes of the stream that were moved but not seen:
// lost (a gap) or not captured. It returns how many it consumed up to an
// event; call again with the rest.
func (p *Parser) Skip(n uint64, lost bool) (uint64, Event) {
	if ev := p.next; ev != None {
		p.next = None
		return 0, ev
	}
	if n == 0 {
		return 0, None
	}
	m := &p.msg
	switch p.st {
	case stBody, stChunkData:
		k := min(n, p.rem)
		p.rem -= k
		m.WireBytes += k
		m.BodyBytes += k
		m.Gap = m.Gap || lost
		if p.rem == 0 {
			if p.st == stBody {
				return k, p.end()
			}
			p.st = stChunkEnd
		}
		return k, None
	case stUntilClose:
		m.WireBytes += n
		m.BodyBytes += n
		m.Gap = m.Gap || lost
		return n, None
	case stHold, stStopped:
		p.held += n
		p.Skipped += n
		return n, None
	case stResync:
		p.Skipped += n
		p.resetLine()
		p.atBoundary = true
		if lost {
			// Whole messages may be among the lost bytes.
			return n, Desync
		}
		return n, None
	}
	p.Skipped += n
	wasCandidate := p.candidate
	inHead := p.st == stStart || p.st == stHeaders
	started := p.st != stIdle && p.st != stStart
	p.resetLine()
	p.st, p.atBoundary, p.candidate = stResync, true, false
	switch {
	case wasCandidate && inHead && lost:
		return n, Desync // messages may be among the lost bytes
	case wasCandidate && inHead:
		return n, None // what was being checked is gone; keep scanning
	case !started:
		return n, Desync
	}
	m.Truncated = m.Truncated || inHead
	return n, p.cut(lost)
}

// Close ends the stream: a body that runs to the close completes, a
// message in progress is cut. Call until it returns None.
func (p *Parser) Close() Event {
	if ev := p.next; ev != None {
		p.next = None
		return ev
	}
	ev := None
	switch p.st {
	case stUntilClose:
		ev = p.end()
	case stHeaders, stBody, stChunkSize, stChunkData, stChunkEnd, stTrailers:
		if !p.candidate {
			p.msg.Cut = true
			p.msg.Truncated = p.msg.Truncated || p.st == stHeaders
			ev = End
		}
	}
	p.st = stStopped
	return ev
}

// begin starts reading a possible start line.
func (p *Parser) begin(candidate bool) {
	p.st, p.candidate, p.bad, p.teOther = stStart, candidate, false, false
	p.sawCL, p.sawTE, p.inFraming = false, false, false
	p.resetLine()
}

// scan skips to a byte that may start a start line at a line boundary.
func (p *Parser) scan(b []byte) (int, Event) {
	i := 0
	for i < len(b) {
		if p.atBoundary {
			if mayStartLine(b[i]) {
				p.Skipped += uint64(i)
				p.begin(true)
				return i, Begin
			}
			p.atBoundary = false
		}
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
		p.atBoundary = true
	}
	p.Skipped += uint64(len(b))
	return len(b), None
}

func (p *Parser) bodyStep(b []byte) (int, Event) {
	if p.SniffBody && p.st == stBody && p.msg.BodyBytes == 0 && p.startsMessage(b) {
		return 0, p.end()
	}
	k := len(b)
	if uint64(k) > p.rem {
		k = int(p.rem)
	}
	p.capture(b[:k])
	p.rem -= uint64(k)
	p.msg.WireBytes += uint64(k)
	p.msg.BodyBytes += uint64(k)
	if p.rem == 0 {
		if p.st == stBody {
			return k, p.end()
		}
		p.st = stChunkEnd
	}
	return k, None
}

// statusPrefix starts every HTTP/1 status line.
var statusPrefix = []byte("HTTP/1.")

// startsMessage reports whether b, the first bytes of the message's body,
// start the next message instead: a status line after a response, a whole
// request line after a request.
func (p *Parser) startsMessage(b []byte) bool {
	if !p.msg.Request {
		return len(b) >= len(statusPrefix) && bytes.HasPrefix(b, statusPrefix)
	}
	end := bytes.IndexByte(b, '\n')
	if end < 0 {
		return false
	}
	_, _, _, ok := requestLine(bytes.TrimSuffix(b[:end], []byte("\r")))
	return ok
}

func (p *Parser) capture(b []byte) {
	if room := p.lim.CaptureBodyBytes - len(p.msg.Body); room > 0 {
		p.msg.Body = append(p.msg.Body, b[:min(room, len(b))]...)
	}
}

// end completes the message and picks the state after it.
func (p *Parser) end() Event {
	m := &p.msg
	switch {
	case !m.Request && (m.Status == 101 || p.Answers == MethodConnect && m.Status/100 == 2):
		p.st = stStopped
	case m.Request && (m.Kind() == MethodConnect || m.Upgrade):
		p.st, p.held = stHold, 0
	default:
		p.st = stIdle
	}
	return End
}

// cut ends the message in progress early and queues a Desync.
func (p *Parser) cut(lost bool) Event {
	p.msg.Cut = true
	p.msg.Gap = p.msg.Gap || lost
	p.st, p.atBoundary, p.candidate = stResync, true, false
	p.next = Desync
	return End
}
