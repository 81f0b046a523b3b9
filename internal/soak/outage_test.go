package soak

import (
	"errors"
	"fmt"
	"net"
	"sync"
)

// outageListener wraps a broker's listener so that the broker can
// disappear and come back on the same address, as a restarted broker
// does: while it is down, every connection it had is closed and the port
// is closed too (a client's dial is refused); once it is up again, it
// listens on the same port and connections work.
//
// The broker can have more than one door: the address it was created with
// (the one it advertises, which every client learns from its metadata)
// and more ports added with addDoor, through which a client whose dialer
// rewrites the advertised address comes in. A door closes on its own
// (setDoorDown: only the clients that use it lose the broker) or with the
// others (setDown: a broker outage).
type outageListener struct {
	addr    net.Addr      // the advertised address: the first door's
	conns   chan net.Conn // accepted connections, from every open door
	closing chan struct{} // closed by Close

	mu     sync.Mutex
	closed bool
	doors  []*door
}

// door is one port of the broker.
type door struct {
	addr  net.Addr
	cur   net.Listener // nil while down
	conns map[*outageConn]struct{}
}

func newOutageListener(l net.Listener) *outageListener {
	ol := &outageListener{addr: l.Addr(), conns: make(chan net.Conn), closing: make(chan struct{})}
	ol.mu.Lock()
	ol.open(&door{addr: l.Addr(), conns: map[*outageConn]struct{}{}}, l)
	ol.mu.Unlock()
	return ol
}

// addDoor opens another port into the broker, on 127.0.0.1, and returns
// it (its index is what setDoorDown takes: the first door is 0).
func (l *outageListener) addDoor() (int, net.Addr, error) {
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = nl.Close()
		return 0, nil, net.ErrClosed
	}
	l.open(&door{addr: nl.Addr(), conns: map[*outageConn]struct{}{}}, nl)
	return len(l.doors) - 1, nl.Addr(), nil
}

// open puts d (new, or coming back up) on nl and starts accepting on it.
// l.mu is held.
func (l *outageListener) open(d *door, nl net.Listener) {
	d.cur = nl
	if !containsDoor(l.doors, d) {
		l.doors = append(l.doors, d)
	}
	go l.accept(d, nl)
}

func containsDoor(ds []*door, d *door) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// accept hands the connections of one opening of d to Accept, until nl is
// closed.
func (l *outageListener) accept(d *door, nl net.Listener) {
	for {
		c, err := nl.Accept()
		if err != nil {
			return // closed: by an outage or for good
		}
		oc := &outageConn{Conn: c, l: l, d: d}
		l.mu.Lock()
		if d.cur != nl { // the door closed meanwhile: so does c
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		d.conns[oc] = struct{}{}
		l.mu.Unlock()
		select {
		case l.conns <- oc:
		case <-l.closing:
			_ = oc.Close()
			return
		}
	}
}

// Accept returns the next connection through any open door, waiting
// through outages.
func (l *outageListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closing:
		return nil, net.ErrClosed
	}
}

// Addr is the broker's advertised address, the same across outages.
func (l *outageListener) Addr() net.Addr { return l.addr }

// Close closes every door for good.
func (l *outageListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.closing)
	var errs []error
	for _, d := range l.doors {
		if d.cur != nil {
			errs = append(errs, d.cur.Close())
			d.cur = nil
		}
	}
	return errors.Join(errs...)
}

// setDown takes the whole broker down (closing every door and every
// connection) or brings it back up on the same addresses.
func (l *outageListener) setDown(down bool) error {
	l.mu.Lock()
	n := len(l.doors)
	l.mu.Unlock()
	var errs []error
	for i := range n {
		errs = append(errs, l.setDoorDown(i, down))
	}
	return errors.Join(errs...)
}

// setDoorDown closes door i (its port and every connection that came
// through it) or opens it again on the same address.
func (l *outageListener) setDoorDown(i int, down bool) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return net.ErrClosed
	}
	if i < 0 || i >= len(l.doors) {
		l.mu.Unlock()
		return fmt.Errorf("no door %d", i)
	}
	d := l.doors[i]
	if !down {
		defer l.mu.Unlock()
		if d.cur != nil {
			return nil
		}
		nl, err := net.Listen(d.addr.Network(), d.addr.String())
		if err != nil {
			return err
		}
		l.open(d, nl)
		return nil
	}
	var err error
	if d.cur != nil {
		err = d.cur.Close()
		d.cur = nil
	}
	conns := make([]*outageConn, 0, len(d.conns))
	for c := range d.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	return err
}

type outageConn struct {
	net.Conn
	l    *outageListener
	d    *door
	once sync.Once
}

func (c *outageConn) Close() error {
	var err error
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.d.conns, c)
		c.l.mu.Unlock()
		err = c.Conn.Close()
	})
	return err
}
