package cli

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/velocity"
)

// velocitySnapshotPath is where the velocity windows are kept across a
// graceful restart: next to the state file.
func velocitySnapshotPath(statePath string) string { return statePath + ".velocity" }

// restoreVelocity loads the windows saved at the last graceful stop. A
// missing file is normal (first start, or a crash); a bad one is logged
// and skipped, never fatal: velocity is rebuilt from traffic.
func restoreVelocity(t *velocity.Tracker, path string, log *slog.Logger) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		log.Warn("velocity snapshot unreadable; starting empty", "path", path, "error", err)
		return
	}
	defer f.Close()
	if err := t.Restore(f, time.Now()); err != nil {
		log.Warn("velocity snapshot rejected; starting empty", "path", path, "error", err)
		return
	}
	log.Info("velocity windows restored", "path", path, "keys", t.Len())
}

// saveVelocity writes the windows atomically (temp file, fsync, rename).
func saveVelocity(t *velocity.Tracker, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := t.Snapshot(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("velocity snapshot: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
