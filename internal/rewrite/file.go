package rewrite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// RewriteFile applies updates to the file at path. It writes only when
// something changes, and then atomically: the new bytes go to a temporary
// file in the same directory, which keeps the original's permission bits and
// is renamed over it. On any error the file is left exactly as it was.
func RewriteFile(ctx context.Context, path string, updates []Update, opts ...Option) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{File: path}, err
	}
	in, err := os.ReadFile(path)
	if err != nil {
		return Result{File: path}, fmt.Errorf("reading manifest %q: %w", path, err)
	}
	out, res, err := Rewrite(path, in, updates, opts...)
	if err != nil || !res.Changed() {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if err := writeAtomic(path, out); err != nil {
		return res, err
	}
	return res, nil
}

// WriteFile replaces the file at path with data atomically (a temporary file
// in the same directory, keeping the permission bits, renamed over it), for
// callers that rewrite several files in memory first and write only when
// every one of them succeeded.
func WriteFile(ctx context.Context, path string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return writeAtomic(path, data)
}

func writeAtomic(name string, data []byte) (err error) {
	// Replace the file a symlink points to, not the link itself.
	path, err := filepath.EvalSymlinks(name)
	if err != nil {
		return fmt.Errorf("writing manifest %q: %w", name, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("writing manifest %q: %w", name, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".automator-*")
	if err != nil {
		return fmt.Errorf("writing manifest %q: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("writing manifest %q: %w", path, err)
	}
	if err = tmp.Chmod(fi.Mode().Perm()); err != nil {
		return fmt.Errorf("writing manifest %q: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("writing manifest %q: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("writing manifest %q: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing manifest %q: %w", path, err)
	}
	return nil
}
