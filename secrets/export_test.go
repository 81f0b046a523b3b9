package secrets

import "time"

// SetClock replaces the loader's clock. Tests only; call before first use.
func SetClock(l *Loader, now func() time.Time) { l.now = now }

// The librdkafka allow-list, for the tests that probe it against the
// linked librdkafka (librdkafka_keys_test.go, cgo only) and for
// IsSensitive's test.
const LibrdkafkaVersion = librdkafkaVersion

func KnownKafkaKey(key string) bool { return knownKafkaKey(key) }
func KnownKafkaKeys() []string      { return knownKafkaKeys() }
