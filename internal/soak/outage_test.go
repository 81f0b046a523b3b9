package soak

import (
	"errors"
	"net"
	"sync"
)

// outageListener wraps a broker's listener so that the broker can
// disappear and come back on the same address, as a restarted broker
// does: while it is down, every connection it had is closed and the port
// is closed too (a client's dial is refused); once it is up again, it
// listens on the same port and connections work.
type outageListener struct {
	addr net.Addr

	mu      sync.Mutex
	cur     net.Listener  // nil while down
	up      chan struct{} // closed when the broker comes back up
	closing chan struct{} // closed by Close
	closed  bool
	conns   map[*outageConn]struct{}
}

func newOutageListener(l net.Listener) *outageListener {
	up := make(chan struct{})
	close(up)
	return &outageListener{addr: l.Addr(), cur: l, up: up, closing: make(chan struct{}), conns: map[*outageConn]struct{}{}}
}

// Accept returns the next connection, waiting through an outage.
func (l *outageListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		cur, up, closed := l.cur, l.up, l.closed
		l.mu.Unlock()
		if closed {
			return nil, net.ErrClosed
		}
		if cur == nil {
			select {
			case <-up:
			case <-l.closing:
			}
			continue
		}
		c, err := cur.Accept()
		if err != nil {
			l.mu.Lock()
			taken := l.cur != cur && !l.closed // closed by an outage, not for good
			l.mu.Unlock()
			if taken && errors.Is(err, net.ErrClosed) {
				continue
			}
			return nil, err
		}
		oc := &outageConn{Conn: c, l: l}
		l.mu.Lock()
		l.conns[oc] = struct{}{}
		l.mu.Unlock()
		return oc, nil
	}
}

// Addr is the broker's address, the same across outages.
func (l *outageListener) Addr() net.Addr { return l.addr }

// Close closes the listener for good.
func (l *outageListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.closing)
	if l.cur != nil {
		return l.cur.Close()
	}
	return nil
}

// setDown takes the broker down (closing its port and every connection)
// or brings it back up on the same address.
func (l *outageListener) setDown(down bool) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return net.ErrClosed
	}
	if !down {
		defer l.mu.Unlock()
		if l.cur != nil {
			return nil
		}
		nl, err := net.Listen(l.addr.Network(), l.addr.String())
		if err != nil {
			return err
		}
		l.cur = nl
		close(l.up)
		return nil
	}
	if l.cur != nil {
		_ = l.cur.Close()
		l.cur = nil
		l.up = make(chan struct{})
	}
	conns := make([]*outageConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	return nil
}

type outageConn struct {
	net.Conn
	l    *outageListener
	once sync.Once
}

func (c *outageConn) Close() error {
	var err error
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		err = c.Conn.Close()
	})
	return err
}
