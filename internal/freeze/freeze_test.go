package freeze

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, start, d, tz string) Window {
	t.Helper()
	w, err := Parse(start, d, tz, "")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ start, d, tz, want string }{
		{"0 18 * * 5", "48h", "Mars/Olympus", "unknown time zone"},
		{"0 18 * * 5", "0s", "", "positive"},
		{"0 18 * * 5", "-1h", "", "positive"},
		{"0 18 * * 5", "two days", "", "Go duration"},
		{"61 18 * * 5", "1h", "", "start"},
		{"", "1h", "", "start"},
	}
	for _, tt := range tests {
		if _, err := Parse(tt.start, tt.d, tt.tz, ""); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q, %q, %q) = %v, want an error containing %q", tt.start, tt.d, tt.tz, err, tt.want)
		}
	}
}

func TestAt(t *testing.T) {
	// Friday 18:00 Berlin for 63h: until Monday 09:00.
	ws := Windows{mustParse(t, "0 18 * * 5", "63h", "Europe/Berlin")}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	tests := []struct {
		now    time.Time
		frozen bool
		until  time.Time
	}{
		{time.Date(2026, 11, 27, 17, 59, 0, 0, berlin), false, time.Time{}},
		{time.Date(2026, 11, 27, 18, 0, 0, 0, berlin), true, time.Date(2026, 11, 30, 9, 0, 0, 0, berlin)},
		{time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC), true, time.Date(2026, 11, 30, 9, 0, 0, 0, berlin)},
		{time.Date(2026, 11, 30, 8, 59, 59, 0, berlin), true, time.Date(2026, 11, 30, 9, 0, 0, 0, berlin)},
		{time.Date(2026, 11, 30, 9, 0, 0, 0, berlin), false, time.Time{}},
		{time.Date(2026, 11, 25, 12, 0, 0, 0, berlin), false, time.Time{}},
	}
	for _, tt := range tests {
		p, ok := ws.At(tt.now)
		if ok != tt.frozen || (ok && !p.Until.Equal(tt.until)) {
			t.Errorf("At(%s) = %v until %s, want %v until %s", tt.now, ok, p.Until, tt.frozen, tt.until)
		}
	}
}

func TestCheck(t *testing.T) {
	from := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		ws      Windows
		overlap bool
	}{
		{"weekend and a night", Windows{mustParse(t, "0 18 * * 5", "60h", "UTC"), mustParse(t, "0 22 * * 1-4", "8h", "UTC")}, false},
		{"longer than its own period", Windows{mustParse(t, "0 0 * * *", "25h", "UTC")}, true},
		{"two windows overlapping", Windows{mustParse(t, "0 18 * * 5", "60h", "UTC"), mustParse(t, "0 9 * * 6", "1h", "UTC")}, true},
		{"same instant in two zones", Windows{mustParse(t, "0 10 24 12 *", "2h", "UTC"), mustParse(t, "0 11 24 12 *", "1h", "Europe/Berlin")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.ws.Check(from, 366*24*time.Hour)
			if got := errors.Is(err, ErrOverlap); got != tt.overlap {
				t.Fatalf("Check() = %v, want overlap %v", err, tt.overlap)
			}
		})
	}
}
