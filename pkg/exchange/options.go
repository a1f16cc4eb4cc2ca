// Options of the exchange stage, with their defaults in one place, and the
// counters it keeps.
package exchange

import (
	"time"

	"github.com/httptrace/httptrace/pkg/http2"
)

// Options bound what the tracker keeps and say when it gives up waiting.
type Options struct {
	// MaxHeaderBytes is how much of a header section is kept; longer
	// sections are truncated (the message is still framed and counted).
	MaxHeaderBytes int
	// CaptureBodyBytes is how many body bytes of each message are kept.
	CaptureBodyBytes int
	// MaxConns bounds the connection table; the least recently used
	// connection is evicted to make room.
	MaxConns int
	// MaxPending bounds requests waiting for their response on one
	// connection (a client may pipeline hundreds).
	MaxPending int
	// MaxPendingBytes bounds what all waiting requests hold together
	// (header sections and captured bodies).
	MaxPendingBytes int
	// MaxBufferedBytes bounds bytes held per direction while waiting for
	// out-of-order records to fill a hole.
	MaxBufferedBytes int
	// MaxRetainedBytes bounds what all parsers keep for header sections in
	// progress beyond a small floor each (httpparse.Budget): past it, header
	// fields are not stored (the record is truncated).
	MaxRetainedBytes int
	// ExchangeTimeout is how long a request waits for its response.
	ExchangeTimeout time.Duration
	// IdleTimeout is how long a connection may go without records before it
	// is dropped.
	IdleTimeout time.Duration
	// ReorderWindow is how long a hole in a stream may stay open before the
	// bytes are taken as lost.
	ReorderWindow time.Duration
	// UnixPath names a unix-domain socket by its inode number, or else by
	// its path's hash ("" for an unnamed one); nil names every one by its
	// process.
	UnixPath func(pid uint32, ino uint64, hash uint32) string
	// TLSReadyNs is when the TLS libraries of the processes traced from the
	// start were probed (monotonic ns, the records' clock): a TLS
	// connection the kernel saw before then may have moved plaintext
	// before its probes were live, so it is adopted.
	TLSReadyNs uint64
}

// DefaultOptions are the defaults of every option.
func DefaultOptions() Options {
	return Options{
		MaxHeaderBytes:   16 << 10,
		CaptureBodyBytes: 0,
		MaxConns:         16384,
		MaxPending:       4096,
		MaxPendingBytes:  32 << 20,
		MaxBufferedBytes: 256 << 10,
		MaxRetainedBytes: 16 << 20,
		ExchangeTimeout:  30 * time.Second,
		IdleTimeout:      5 * time.Minute,
		ReorderWindow:    100 * time.Millisecond,
	}
}

// withDefaults fills options left zero (or negative) with their defaults.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	orDefault(&o.MaxHeaderBytes, d.MaxHeaderBytes)
	orDefault(&o.MaxConns, d.MaxConns)
	orDefault(&o.MaxPending, d.MaxPending)
	orDefault(&o.MaxPendingBytes, d.MaxPendingBytes)
	orDefault(&o.MaxBufferedBytes, d.MaxBufferedBytes)
	orDefault(&o.MaxRetainedBytes, d.MaxRetainedBytes)
	orDefault(&o.ExchangeTimeout, d.ExchangeTimeout)
	orDefault(&o.IdleTimeout, d.IdleTimeout)
	orDefault(&o.ReorderWindow, d.ReorderWindow)
	o.CaptureBodyBytes = max(o.CaptureBodyBytes, 0)
	return o
}

// orDefault sets *v to d unless it is positive.
func orDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// maxUnseen is the most bytes a record or close may say moved unseen
// before it; more is taken as a count gone wrong (UnseenImplausible) and
// left out rather than passed on as a stretch of that size.
const maxUnseen = 1 << 40

// maxFreeConns bounds the removed connections kept for reuse.
const maxFreeConns = 1024

// maxKeptPending bounds the request queue a reused connection keeps.
const maxKeptPending = 64

// maxHeldPieces bounds the pieces a direction holds behind a hole.
const maxHeldPieces = 64

// MaxStreams bounds the open streams followed per HTTP/2 connection.
const MaxStreams = 1024

// skipHintMin is the body still to come above which a skip hint is given.
const skipHintMin = 4096

// Stats are the tracker's counters since New; they only grow.
type Stats struct {
	Records           uint64      // data records taken
	Exchanges         uint64      // records emitted, of every kind
	Paired            uint64      // records with both a request and a response
	Incomplete        uint64      // records logged incomplete: requests without a response (close, timeout, lost pairing) or exchanges cut short
	TimedOut          uint64      // of Incomplete: requests that waited ExchangeTimeout
	Unmatched         uint64      // responses logged without a request
	Gaps              uint64      // holes in streams that became gaps (records lost)
	BytesNotSeen      uint64      // bytes in those gaps
	BytesNotCaptured  uint64      // bytes moved but not captured (capture cap or skipped body)
	LateRecords       uint64      // records whose bytes had already been passed on or declared lost
	HolesForced       uint64      // holes made gaps early because a buffering bound was reached
	Desyncs           uint64      // times a parser lost framing and scanned for the next message
	SkippedBytes      uint64      // bytes outside any message (scanned over, tunnels, upgrades)
	PendingDropped    uint64      // requests not queued because MaxPending or MaxPendingBytes was reached
	Upgraded          uint64      // connections no longer parsed after 101 or CONNECT
	NotHTTP           uint64      // connections seen from their start whose first bytes are not HTTP: muted
	ConnsOpened       uint64      // connections added to the table
	ConnsClosed       uint64      // connections removed on their close record or process exit
	ConnsEvicted      uint64      // connections evicted because MaxConns was reached
	ConnsIdle         uint64      // connections dropped after IdleTimeout
	ConnsResumed      uint64      // connections dropped for idleness or room that spoke again, resumed where they were
	ConnsReplaced     uint64      // connections ended by a record of a newer generation on the same id
	ConnsHTTP2        uint64      // connections read as HTTP/2: opened with the preface (or a server's SETTINGS), or picked up mid-way on frames
	HTTP2             http2.Stats // what the HTTP/2 connections saw
	ConnsSwitchedTLS  uint64      // connections found TLS after their socket's bytes were sent: their plaintext joined late
	StaleRecords      uint64      // records of a connection that ended (closed, or replaced by a newer generation): dropped
	BytesUnseen       uint64      // bytes the socket moved that no record carried (splice, io_uring, ...): passed on as not captured
	FramingAmbiguous  uint64      // connections with a message whose framing headers could be read more than one way
	HeadersOverBudget uint64      // header lines not stored because MaxRetainedBytes was reached (records truncated)
	UnseenImplausible uint64      // records whose unseen count was beyond any real stretch (maxUnseen): left out
	EarlyResponses    uint64      // of Paired: responses that came before their request had ended
}
