package franz

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/sasl"
)

// logins tracks the SASL logins of a generation's connections, by broker
// address: a connection that fails between the start of its login and its
// end was refused its credentials, whatever the error says — a broker may
// answer SASL_AUTHENTICATION_FAILED, or just close the connection (some
// proxies, and the kfake test broker, do), which kgo reports as a bare EOF.
type logins struct {
	mu      sync.Mutex
	started map[string]int // logins begun and not finished, per address
}

// wrap returns m, reporting its logins to l.
func (l *logins) wrap(m sasl.Mechanism) sasl.Mechanism {
	l.started = map[string]int{}
	return &trackedMechanism{Mechanism: m, l: l}
}

// failed reports whether a login to addr was under way, and forgets it.
func (l *logins) failed(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started[addr] > 0 {
		l.started[addr]--
		return true
	}
	return false
}

func (l *logins) add(addr string, n int) {
	l.mu.Lock()
	l.started[addr] += n
	if l.started[addr] <= 0 {
		delete(l.started, addr)
	}
	l.mu.Unlock()
}

type trackedMechanism struct {
	sasl.Mechanism
	l *logins
}

func (m *trackedMechanism) Authenticate(ctx context.Context, host string) (sasl.Session, []byte, error) {
	s, first, err := m.Mechanism.Authenticate(ctx, host)
	if err != nil {
		return nil, nil, err
	}
	m.l.add(host, 1)
	return &trackedSession{Session: s, l: m.l, addr: host}, first, nil
}

type trackedSession struct {
	sasl.Session
	l    *logins
	addr string
}

func (s *trackedSession) Challenge(b []byte) (bool, []byte, error) {
	done, out, err := s.Session.Challenge(b)
	if done || err != nil {
		s.l.add(s.addr, -1)
	}
	return done, out, err
}
