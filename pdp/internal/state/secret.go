package state

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
)

// SecretSize is the length of the keys Secret creates.
const SecretSize = 32

// Secret returns the random key stored under name, creating and durably
// storing a new one (crypto/rand, SecretSize bytes) on first use, so that
// it survives restarts. Every caller and every later run gets the same
// bytes. The result is the caller's copy. The key is stored unencrypted
// in the state file: protect the file accordingly.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	if name == "" || len(name) > maxValueLen {
		return nil, invalid("secret name of %d bytes", len(name))
	}
	if v, ok := s.secrets.Load(name); ok {
		return slices.Clone(v.([]byte)), nil
	}
	var key []byte
	err := s.do(ctx, &request{job: func(be Backend) (*Batch, func(), error) {
		if err := be.Get(BucketSecrets, [][]byte{[]byte(name)}, func(_ int, v []byte) error {
			key = slices.Clone(v)
			return nil
		}); err != nil {
			return nil, nil, err
		}
		if key != nil {
			if len(key) != SecretSize {
				return nil, nil, corrupt("secret "+name, fmt.Errorf("%d bytes", len(key)))
			}
			return nil, nil, nil
		}
		key = make([]byte, SecretSize)
		if _, err := rand.Read(key); err != nil {
			return nil, nil, err
		}
		b := &Batch{}
		b.put(BucketSecrets, []byte(name), key)
		return b, nil, nil
	}})
	if err != nil {
		return nil, err
	}
	if s.shared != nil {
		// Another sidecar may have created the key first: a shared
		// backend keeps the first one (SET NX), and that is the key.
		if err := s.be.Get(BucketSecrets, [][]byte{[]byte(name)}, func(_ int, v []byte) error {
			if len(v) != SecretSize {
				return corrupt("secret "+name, fmt.Errorf("%d bytes", len(v)))
			}
			key = slices.Clone(v)
			return nil
		}); err != nil {
			return nil, err
		}
	}
	v, _ := s.secrets.LoadOrStore(name, key)
	return slices.Clone(v.([]byte)), nil
}
