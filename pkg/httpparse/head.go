// The line-oriented parts of a message: start line, header section,
// chunk-size lines and trailers, read from chunks split anywhere.
package httpparse

import "bytes"

func (p *Parser) resetLine() {
	p.line, p.lineOver, p.lineTotal = p.line[:0], false, 0
}

// takeLine returns a complete line without its line end, from b directly
// when it is whole there, else from the line buffer.
func (p *Parser) takeLine(b []byte) ([]byte, int, bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		p.appendLine(b)
		p.lineTotal += uint64(len(b))
		return nil, len(b), false
	}
	p.lineTotal += uint64(i + 1)
	line := b[:i]
	if len(p.line) > 0 || p.lineOver || i > p.lim.MaxHeaderBytes {
		p.appendLine(line) // a line too long is over however it came
		line = p.line
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, i + 1, true
}

func (p *Parser) appendLine(b []byte) {
	// A start line is stored whatever the budget (as in started): refusing
	// it would lose the message's framing, not just its fields.
	if p.lineOver || len(p.line)+len(b) > p.lim.MaxHeaderBytes ||
		p.st != stStart && !p.room(len(p.line), cap(p.line), len(b), floorLine, 1) {
		p.lineOver = true
		return
	}
	c := cap(p.line)
	p.line = append(p.line, b...)
	if cap(p.line) != c {
		p.account()
	}
}

// lineStep reads one line of a line-oriented state.
func (p *Parser) lineStep(b []byte) (int, Event) {
	line, k, ok := p.takeLine(b)
	if p.st != stStart {
		p.msg.WireBytes += uint64(k)
	}
	if !ok {
		switch {
		case p.st == stStart && p.lineOver:
			p.atBoundary = false // mid-line: scan on to the next line end
			return k, p.reject()
		case p.st == stHeaders && p.msg.HeaderBytes+p.lineTotal > p.hardHeaderLimit():
			return k, p.abandon()
		}
		return k, None
	}
	ev := p.onLine(line)
	p.resetLine()
	return k, ev
}

// onLine handles a complete line.
func (p *Parser) onLine(line []byte) Event {
	m := &p.msg
	switch p.st {
	case stStart:
		return p.startLine(line)
	case stHeaders:
		m.HeaderBytes += p.lineTotal
		if m.HeaderBytes > p.hardHeaderLimit() {
			return p.abandon()
		}
		if len(line) == 0 && !p.lineOver {
			return p.headEnd()
		}
		if p.lineOver {
			m.Truncated = true
			return None
		}
		return p.headerLine(line)
	case stChunkSize:
		size, ok := chunkSize(line)
		switch {
		case !ok || p.lineOver:
			return p.cut(false)
		case size == 0:
			p.st = stTrailers
		default:
			p.rem, p.st = size, stChunkData
		}
	case stChunkEnd:
		if len(line) != 0 || p.lineOver {
			return p.cut(false)
		}
		p.st = stChunkSize
	case stTrailers:
		if len(line) == 0 && !p.lineOver {
			return p.end()
		}
	}
	return None
}

// reject drops a start line that is not one: while scanning that is
// normal, in sync it means framing was lost.
func (p *Parser) reject() Event {
	p.st = stResync
	if p.candidate {
		p.Skipped += p.lineTotal
		p.resetLine()
		return None
	}
	p.resetLine()
	return Desync
}

// abandon gives up on a header section that is not valid or does not end.
func (p *Parser) abandon() Event {
	p.resetLine()
	if p.candidate {
		p.st, p.atBoundary = stResync, false
		return None
	}
	p.msg.Truncated = true
	return p.cut(false)
}

func (p *Parser) startLine(line []byte) Event {
	m := &p.msg
	if p.lineOver {
		p.atBoundary = true
		return p.reject()
	}
	if p.Want != Responses {
		if method, target, proto, ok := requestLine(line); ok {
			m.reset(true)
			m.Method, m.Target, m.Proto = method, target, proto
			return p.started(line)
		}
	}
	if p.Want != Requests {
		if status, proto, reason, ok := statusLine(line); ok {
			m.reset(false)
			m.Status, m.Proto, m.Reason = status, proto, reason
			return p.started(line)
		}
	}
	p.atBoundary = true
	return p.reject()
}

func (p *Parser) started(line []byte) Event {
	m := &p.msg
	c := cap(m.head)
	m.head = append(m.head, line...) // the start line is stored whatever the budget: its spans index it
	if cap(m.head) != c {
		p.account()
	}
	m.HeaderBytes, m.WireBytes = p.lineTotal, p.lineTotal
	p.st = stHeaders
	return None
}

// headerLine checks a header line, notes framing headers and stores it
// while there is room.
func (p *Parser) headerLine(line []byte) Event {
	m := &p.msg
	name, value, fold, ok := headerField(line)
	if !ok {
		if p.candidate {
			p.st, p.atBoundary = stResync, true
			return None
		}
		return p.cut(false)
	}
	if fold {
		m.Ambiguous = m.Ambiguous || p.inFraming
	} else {
		p.inFraming = p.framingHeader(line[name.Off:name.End], line[value.Off:value.End])
	}
	if len(m.head)+len(line) > p.lim.MaxHeaderBytes || !p.room(len(m.head), cap(m.head), len(line), floorHead, 1) ||
		!fold && !p.room(len(m.Fields), cap(m.Fields), 1, floorFields, fieldSize) {
		m.Truncated = true
		return None
	}
	off, hc, fc := int32(len(m.head)), cap(m.head), cap(m.Fields)
	m.head = append(m.head, line...)
	if !fold {
		m.Fields = append(m.Fields, Field{Span{off + name.Off, off + name.End}, Span{off + value.Off, off + value.End}})
	}
	if cap(m.head) != hc || cap(m.Fields) != fc {
		p.account()
	}
	return None
}

// framingHeader notes the headers that decide where a message ends, and
// says whether name is Content-Length or Transfer-Encoding.
func (p *Parser) framingHeader(name, value []byte) bool {
	m := &p.msg
	switch len(name) { // most names are none of these, and differ in length
	case len("content-length"):
		if equalFold(name, "content-length") {
			n, ok := parseContentLength(value)
			if !ok || m.ContentLength >= 0 && m.ContentLength != n {
				p.bad = true
			}
			m.ContentLength, p.sawCL = n, true
			return true
		}
	case len("transfer-encoding"):
		if equalFold(name, "transfer-encoding") {
			m.Chunked = lastToken(value, "chunked")
			p.teOther, p.sawTE = !m.Chunked, true
			return true
		}
	case len("connection"):
		if equalFold(name, "connection") {
			m.Close = m.Close || hasToken(value, "close")
		}
	case len("upgrade"):
		if equalFold(name, "upgrade") {
			m.Upgrade = true
			m.UpgradeH2C = m.UpgradeH2C || hasToken(value, "h2c")
		}
	}
	return false
}

// parseContentLength reads a Content-Length value: a decimal, or a list of
// identical decimals (RFC 9110 section 8.6: a recipient may take it as one).
func parseContentLength(value []byte) (int64, bool) {
	n, ok := parseDecimal(value)
	if ok || bytes.IndexByte(value, ',') < 0 {
		return n, ok
	}
	n = -1
	for part := range bytes.SplitSeq(value, []byte(",")) {
		v, ok := parseDecimal(bytes.Trim(part, " \t"))
		if !ok || n >= 0 && v != n {
			return 0, false
		}
		n = v
	}
	return n, true
}

// headEnd decides how the body is framed once the header section is over,
// as RFC 9112 section 6.3 orders it: Transfer-Encoding over Content-Length;
// Transfer-Encoding in HTTP/1.0 makes the framing faulty (a request is
// cut, a response runs to the close).
func (p *Parser) headEnd() Event {
	m := &p.msg
	if p.sawTE && string(m.Bytes(m.Proto)) == "HTTP/1.0" {
		m.Ambiguous, p.teOther, m.Chunked = true, true, false
	}
	if p.sawCL && p.sawTE {
		m.Ambiguous = true
	}
	if p.bad || m.Request && p.teOther {
		if p.candidate {
			p.st, p.atBoundary = stResync, true
			return None
		}
		return p.cut(false)
	}
	p.candidate = false
	switch {
	case !m.Request && (m.Status < 200 || m.Status == 204 || m.Status == 304 ||
		p.Answers == MethodHead || p.Answers == MethodConnect && m.Status < 300):
		p.next = p.end()
	case m.Chunked:
		p.st = stChunkSize
	case !m.Request && p.teOther:
		p.st = stUntilClose
	case m.ContentLength > 0:
		p.rem, p.st = uint64(m.ContentLength), stBody
	case m.ContentLength == 0 || m.Request:
		p.next = p.end()
	default:
		p.st = stUntilClose
	}
	return Head
}
