// Fuzz target: records cut from a known stream, reordered, dropped and
// partly captured, must come out in order with every byte accounted for.
package stream

import "testing"

func FuzzStream(f *testing.F) {
	f.Add([]byte{10, 0, 10, 0, 20, 1, 20, 0, 5, 2, 5, 0}, uint8(1))
	f.Add([]byte{200, 3, 100, 9, 7, 1, 7, 0, 0, 0, 0, 255, 250, 4, 30, 30}, uint8(0))
	f.Fuzz(func(t *testing.T, script []byte, mode uint8) {
		src := make([]byte, 1<<14)
		for i := range src {
			src[i] = byte(i*7 + i>>8)
		}
		lim := Limits{MaxBufferedBytes: 300, MaxPieces: 5, WindowNs: 10}
		var s Stream
		s.Reset(lim, mode&1 == 1)
		k := &checkSink{t: t, src: src}
		// Cut the script into records of (length, capture offset, captured, flags).
		type r struct{ pos, n, off, capN int }
		var recs []r
		pos := 0
		for i := 0; i+3 < len(script) && pos < len(src); i += 4 {
			n := min(1+int(script[i]), len(src)-pos)
			off := min(int(script[i+1])%8, n)
			capN := min(int(script[i+2]), n-off)
			recs = append(recs, r{pos, n, off, capN})
			pos += n
		}
		// Reorder neighbours and drop records as the flags byte says.
		dropped := false
		for i := 0; i+3 < len(script) && i/4 < len(recs); i += 4 {
			j, fl := i/4, script[i+3]
			if fl&3 == 1 && j+1 < len(recs) {
				recs[j], recs[j+1] = recs[j+1], recs[j]
			}
			if fl&3 == 2 {
				recs[j].n = 0 // dropped: never pushed
				dropped = true
			}
		}
		if mode&1 == 0 && len(recs) > 0 {
			k.pos = uint64(recs[0].pos)
			if recs[0].n == 0 {
				return // the first record seen decides where an adopted stream starts
			}
		}
		start := k.pos
		for i, x := range recs {
			if x.n == 0 {
				continue
			}
			s.Push(rec(src, x.pos, x.n, x.off, x.capN, uint64(i)), k)
			if s.buffered > lim.MaxBufferedBytes || len(s.pend) > lim.MaxPieces {
				t.Fatalf("holding %d bytes in %d pieces, over the bounds", s.buffered, len(s.pend))
			}
			if mode&2 == 2 {
				s.Expire(uint64(i), k)
			}
		}
		s.Flush(k)
		if k.pos != s.Next() {
			t.Fatalf("sink at %d, stream at %d", k.pos, s.Next())
		}
		if s.Waiting() || s.buffered != 0 {
			t.Fatalf("pieces still held after Flush")
		}
		if k.lost != s.Lost || k.notCap != s.NotCaptured {
			t.Fatalf("sink saw %d lost, %d not captured; stream counted %d, %d", k.lost, k.notCap, s.Lost, s.NotCaptured)
		}
		if !dropped && mode&3 == 1 && s.Forced == 0 && (s.Lost != 0 || s.Late != 0) {
			t.Fatalf("nothing dropped or forced, yet %d bytes lost and %d pieces late", s.Lost, s.Late)
		}
		if k.pos < start {
			t.Fatalf("stream went backwards")
		}
	})
}
