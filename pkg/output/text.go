package output

import (
	"bytes"
	"fmt"

	"github.com/sirupsen/logrus"
)

// requestText renders a captured request on one line, most telling first:
//
//	15:04:05.000000 goserver[1234/1240] fd=6 GET /api?x=1 HTTP/1.1 host=h bytes=118 | Accept: */*; X-Id: 7
//
// A request cut short by the capture or the read ends in " [truncated]".
type requestText struct{}

// Format implements logrus.Formatter.
func (requestText) Format(e *logrus.Entry) ([]byte, error) {
	d := e.Data
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %v[%v/%v] fd=%v %s host=%v bytes=%v",
		e.Time.Format("15:04:05.000000"), d["comm"], d["pid"], d["tid"], d["fd"], e.Message, d["host"], d["bytes"])
	if h, _ := d["headers"].(string); h != "" {
		b.WriteString(" | ")
		b.WriteString(h)
	}
	if t, _ := d["truncated"].(bool); t {
		b.WriteString(" [truncated]")
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
