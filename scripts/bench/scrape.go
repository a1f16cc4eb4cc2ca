// The metrics setup's scraper: what a Prometheus server does to httptrace.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// scraper reads a metrics endpoint at a fixed interval until stopped.
type scraper struct {
	done    chan struct{}
	stopped chan struct{}
	scrapes int
	err     error
}

func startScraper(url string, every time.Duration) *scraper {
	s := &scraper{done: make(chan struct{}), stopped: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second}
	go func() {
		defer close(s.stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				resp, err := client.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s: %s", url, resp.Status)
					}
				}
				if err != nil && s.err == nil {
					s.err = err
				}
				s.scrapes++
			}
		}
	}()
	return s
}

// stop ends the scraping; an endpoint that failed, or was never read, is
// an error.
func (s *scraper) stop() error {
	close(s.done)
	<-s.stopped
	if s.err != nil {
		return fmt.Errorf("scraping metrics: %w", s.err)
	}
	if s.scrapes == 0 {
		return fmt.Errorf("scraping metrics: the run ended before the first scrape")
	}
	return nil
}

// freeAddrs are n loopback addresses with ports free now, each another
// (the listeners are held until all are chosen: one closed first could be
// chosen again).
func freeAddrs(n int) ([]string, error) {
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		out = append(out, ln.Addr().String())
	}
	return out, nil
}

// freeAddr is a loopback address with a port free now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
