// The HTTP/2 part of the program: one line per HEADERS frame. HPACK is out
// of a bpftrace program's reach (its tables span the connection), so the
// frames are counted and described, not decoded.

package bpftrace

import (
	"fmt"
	"strings"

	"github.com/httptrace/httptrace/pkg/event"
)

// H2MaxFrames is how many frame headers the program walks in one read or
// write; a call holding more loses that direction's frames (H2LOST).
const H2MaxFrames = 64

// h2Preface is the client preface.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// h2PrefaceSeen is how much of the preface a call must move to mark its
// fd: "PRI * HTTP/2.0", the first line.
const h2PrefaceSeen = 14

// h2FrameHeader is a frame header's size.
const h2FrameHeader = 9

// dirName is a direction as the program prints it.
func dirName(d event.Direction) string {
	if d == event.Send {
		return "write"
	}
	return "read"
}

// h2Frames writes the statements, after classify's, that follow an HTTP/2
// connection's frames through a buffer read or write of $seen bytes at $b
// on $fd, in direction dir. An fd becomes HTTP/2 at the call that moves
// the client preface, and each direction's frames are then followed from
// call to call (@h2skip: bytes of the last frame still to come). A frame
// header split across two calls, or more than H2MaxFrames frames in one,
// loses the direction (H2LOST), as does a vector call (only buffers are
// walked); the next preface on the fd starts again.
func h2Frames(b *strings.Builder, indent string, dir event.Direction) {
	line := func(format string, args ...any) {
		b.WriteString(indent)
		fmt.Fprintf(b, format, args...)
		b.WriteString("\n")
	}
	d := dirName(dir)
	h2Reuse(b, indent, dir)
	line("// HTTP/2: the client preface starts the frames, in both directions (Go's")
	line("// server reads its first %d bytes, then the rest).", h2PrefaceSeen)
	line("if ($seen >= %d && $w0 == 0x%016x && ($w1 & 0x%x) == 0x%x) {", h2PrefaceSeen, word(h2Preface[:8]),
		uint64(1)<<(8*(h2PrefaceSeen-8))-1, word(h2Preface[8:h2PrefaceSeen]))
	line("\t@h2[pid, $fd] = 1;")
	line("\t@h2skip[pid, $fd, %q] = %d;", d, len(h2Preface))
	line("\t@h2skip[pid, $fd, %q] = 0;", dirName(1-dir))
	line("\tdelete(@h2lost[pid, $fd, \"read\"]);")
	line("\tdelete(@h2lost[pid, $fd, \"write\"]);")
	line("}")
	line("if (@h2[pid, $fd] && !@h2lost[pid, $fd, %q]) {", d)
	line("\t$off = (int64)@h2skip[pid, $fd, %q];", d)
	line("\t$k = 0;")
	line("\twhile ($off + %d <= $seen && $k < %d) {", h2FrameHeader, H2MaxFrames)
	line("\t\t$p = $b + (uint64)$off;")
	line("\t\t$flen = (int64)((*(uint8 *)$p << 16) | (*(uint8 *)($p + 1) << 8) | *(uint8 *)($p + 2));")
	line("\t\tif (*(uint8 *)($p + 3) == 0x1) {")
	line("\t\t\t$sid = ((*(uint8 *)($p + 5) & 0x7f) << 24) | (*(uint8 *)($p + 6) << 16) | (*(uint8 *)($p + 7) << 8) | *(uint8 *)($p + 8);")
	line("\t\t\tprintf(\"H2HEADERS pid=%%d fd=%%d dir=%s stream=%%d flags=0x%%02x length=%%d\\n\", pid, $fd, $sid, *(uint8 *)($p + 4), $flen);", d)
	line("\t\t}")
	line("\t\t$off += %d + $flen;", h2FrameHeader)
	line("\t\t$k++;")
	line("\t}")
	line("\tif ($off >= $seen) {")
	line("\t\t@h2skip[pid, $fd, %q] = $off - $seen;", d)
	line("\t} else {")
	line("\t\t@h2lost[pid, $fd, %q] = 1;", d)
	line("\t\tprintf(\"H2LOST pid=%%d fd=%%d dir=%s\\n\", pid, $fd);", d)
	line("\t}")
	line("}")
}

// h2Vector writes the statements of a vector call, whose bytes after the
// first iovec the program does not see: an HTTP/2 direction is lost.
func h2Vector(b *strings.Builder, indent string, dir event.Direction) {
	d := dirName(dir)
	h2Reuse(b, indent, dir)
	fmt.Fprintf(b, "%sif (@h2[pid, $fd] && !@h2lost[pid, $fd, %q]) {\n", indent, d)
	fmt.Fprintf(b, "%s\t@h2lost[pid, $fd, %q] = 1;\n", indent, d)
	fmt.Fprintf(b, "%s\tprintf(\"H2LOST pid=%%d fd=%%d dir=%s\\n\", pid, $fd);\n%s}\n", indent, d, indent)
}

// h2Reuse writes the statements that end an fd's HTTP/2 when a call
// starting at a frame boundary opens an HTTP/1 message: the connection
// closed and the fd now holds another (no close is hooked). At a frame
// boundary the first byte is a frame length's highest, never a method's
// or "HTTP/"'s letter for frames of the default maximum size; a call that
// starts inside a frame is left alone. The client preface opens like a
// request ("PRI * "): h2Frames' preface check, after this, starts again.
func h2Reuse(b *strings.Builder, indent string, dir event.Direction) {
	d := dirName(dir)
	fmt.Fprintf(b, "%sif ($http1 && @h2[pid, $fd] && @h2skip[pid, $fd, %q] == 0) {\n", indent, d)
	for _, s := range []string{
		"delete(@h2[pid, $fd]);",
		`delete(@h2skip[pid, $fd, "read"]);`, `delete(@h2skip[pid, $fd, "write"]);`,
		`delete(@h2lost[pid, $fd, "read"]);`, `delete(@h2lost[pid, $fd, "write"]);`,
	} {
		fmt.Fprintf(b, "%s\t%s\n", indent, s)
	}
	fmt.Fprintf(b, "%s}\n", indent)
}
