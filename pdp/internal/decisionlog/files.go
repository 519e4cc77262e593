package decisionlog

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Files lists the files of the decision log at path, oldest first: the
// rotated backups (NAME-<UTC time>.EXT, compressed or not) in the order of
// the time in their names, then path itself if it exists. When a backup
// exists both compressed and not (compression was interrupted, or is under
// way), only the uncompressed one is listed: it is complete, the other may
// not be. Pass the result to NewReader.
func Files(path string) ([]string, error) {
	bs, err := backups(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(bs)+1)
	for _, b := range bs {
		if b.plain != "" {
			out = append(out, b.plain)
		} else {
			out = append(out, b.gz)
		}
	}
	if _, err := os.Stat(path); err == nil {
		out = append(out, path)
	}
	return out, nil
}

// backup is one rotated file of a log, in either or both forms.
type backup struct {
	t         time.Time
	plain, gz string
}

// backupNames splits path into its directory and what the names of its
// rotated files start with (NAME-) and end with (.EXT).
func backupNames(path string) (dir, prefix, ext string) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ext = filepath.Ext(base)
	return dir, base[:len(base)-len(ext)] + "-", ext
}

// backups returns the rotated files of path, oldest first.
func backups(path string) ([]backup, error) {
	dir, prefix, ext := backupNames(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	byTime := map[time.Time]*backup{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, prefix) {
			continue
		}
		rest := name[len(prefix):]
		gz := strings.HasSuffix(rest, ".gz")
		rest = strings.TrimSuffix(rest, ".gz")
		if !strings.HasSuffix(rest, ext) {
			continue
		}
		t, err := time.Parse(backupTimeFormat, rest[:len(rest)-len(ext)])
		if err != nil {
			continue
		}
		b := byTime[t]
		if b == nil {
			b = &backup{t: t}
			byTime[t] = b
		}
		if full := filepath.Join(dir, name); gz {
			b.gz = full
		} else {
			b.plain = full
		}
	}
	out := make([]backup, 0, len(byTime))
	for _, b := range byTime {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].t.Before(out[j].t) })
	return out, nil
}
