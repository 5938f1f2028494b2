// Package gate decides whether a scanned image may be promoted to an
// environment. It is pure: it evaluates a vulnerability Report (produced by
// internal/scan, which alone links Trivy) against a per-environment Policy and
// an ignore file, and renders the verdicts as a table, markdown, JSON or SARIF.
//
// Nothing here touches the network or the Trivy DB, so the pipeline stages can
// depend on these types without linking Trivy.
package gate

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Severity is a vulnerability severity as used by Trivy and the config's
// failOn / maxCount keys. Its order is UNKNOWN < LOW < MEDIUM < HIGH < CRITICAL.
type Severity string

// The severities, lowest first.
const (
	SeverityUnknown  Severity = "UNKNOWN"
	SeverityLow      Severity = "LOW"
	SeverityMedium   Severity = "MEDIUM"
	SeverityHigh     Severity = "HIGH"
	SeverityCritical Severity = "CRITICAL"
)

// Severities lists every severity from the most to the least severe, the
// order used for columns and sorting in every report.
var Severities = []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityUnknown}

// ParseSeverity accepts a severity name in any case.
func ParseSeverity(s string) (Severity, error) {
	sev := Severity(strings.ToUpper(strings.TrimSpace(s)))
	if !slices.Contains(Severities, sev) {
		return "", fmt.Errorf("unknown severity %q (want one of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)", s)
	}
	return sev, nil
}

// Rank orders severities: UNKNOWN is 0, CRITICAL is 4; an unrecognised value
// ranks as UNKNOWN.
func (s Severity) Rank() int {
	if i := slices.Index(Severities, s); i >= 0 {
		return len(Severities) - 1 - i
	}
	return 0
}

// Finding is one vulnerability detected in one package of an image. It holds
// the evidence reviewers need (ID, package, installed → fixed, severity)
// without exposing any Trivy type.
type Finding struct {
	// ID is the advisory identifier, e.g. CVE-2023-9999 or GHSA-….
	ID string `json:"id"`
	// Package is the package name (OS package or module/library name).
	Package string `json:"package"`
	// PURL is the package URL when Trivy knows it; ignore entries match on it.
	PURL string `json:"purl,omitempty"`
	// Path is the file the package was found in (language packages, e.g. a Go
	// binary); empty for OS packages.
	Path string `json:"path,omitempty"`
	// Target is Trivy's result target, e.g. "img (alpine 3.18.4)" or
	// "app/server"; ignore entries' paths match it as well as Path.
	Target string `json:"target"`
	// Class is the kind of package: os-pkgs or lang-pkgs.
	Class string `json:"class"`
	// Type is the package ecosystem, e.g. alpine, gobinary, npm.
	Type string `json:"type"`
	// Installed is the installed version.
	Installed string `json:"installed"`
	// Fixed lists the version(s) that fix it; empty when no fix exists.
	Fixed string `json:"fixed,omitempty"`
	// Status is the fix status from the advisory (fixed, affected, will_not_fix, …).
	Status string `json:"status,omitempty"`
	// Severity is the severity Trivy selected for this finding.
	Severity Severity `json:"severity"`
	// Title is the advisory's one-line title.
	Title string `json:"title,omitempty"`
	// URL is the advisory's primary reference.
	URL string `json:"url,omitempty"`
}

// Fixable reports whether a fixed version exists; policies with
// ignoreUnfixed only count fixable findings (Trivy's --ignore-unfixed).
func (f Finding) Fixable() bool { return f.Status == "fixed" || (f.Status == "" && f.Fixed != "") }

// key identifies a finding for deduplication and stable ordering.
func (f Finding) key() string {
	return strings.Join([]string{f.ID, f.Package, f.Installed, f.Path, f.Target}, "\x00")
}

// Image identifies the scanned image.
type Image struct {
	// Ref is how the caller named the image (a reference or an OCI layout dir).
	Ref string `json:"ref"`
	// Digest is the manifest digest (sha256:…) the scan applies to; the scan
	// cache and every verdict are keyed by it.
	Digest string `json:"digest"`
	// OS is the detected distribution, e.g. "alpine 3.18.4"; empty when none.
	OS string `json:"os,omitempty"`
}

// String renders repo@digest, or the ref alone when the digest is unknown.
func (i Image) String() string {
	if i.Digest == "" || strings.Contains(i.Ref, "@") {
		return i.Ref
	}
	return i.Ref + "@" + i.Digest
}

// DBInfo describes the vulnerability DB a report was produced with. Every
// report shows its age so that a stale DB is never a silent pass.
type DBInfo struct {
	// SchemaVersion is the Trivy DB schema version (2).
	SchemaVersion int `json:"schemaVersion"`
	// UpdatedAt is when the DB was built upstream; Age is measured from it.
	UpdatedAt time.Time `json:"updatedAt"`
	// NextUpdate is when upstream publishes the next DB.
	NextUpdate time.Time `json:"nextUpdate"`
	// DownloadedAt is when this copy was fetched (zero for a DB placed by hand).
	DownloadedAt time.Time `json:"downloadedAt,omitzero"`
}

// Version identifies the DB contents; results cached under one version are
// never served for another.
func (d DBInfo) Version() string {
	return fmt.Sprintf("v%d@%s", d.SchemaVersion, d.UpdatedAt.UTC().Format(time.RFC3339Nano))
}

// Age is how old the DB was at now.
func (d DBInfo) Age(now time.Time) time.Duration { return now.Sub(d.UpdatedAt) }

// Describe renders the DB's build time and age for humans, e.g.
// "updated 2026-05-01 06:12 UTC (3h ago)".
func (d DBInfo) Describe(now time.Time) string {
	if d.UpdatedAt.IsZero() {
		return "unknown age"
	}
	return fmt.Sprintf("updated %s (%s ago)", d.UpdatedAt.UTC().Format("2006-01-02 15:04 UTC"), humanDuration(d.Age(now)))
}

// Report is the scan result of one image under one DB: every finding,
// unfiltered. Policies and ignore files are applied later, per environment,
// by Evaluate; a Report is shared between environments and must be treated as
// read-only.
type Report struct {
	Image     Image     `json:"image"`
	DB        DBInfo    `json:"db"`
	ScannedAt time.Time `json:"scannedAt"`
	// Scanner names the engine and its version, e.g. "trivy v0.74.0".
	Scanner  string    `json:"scanner"`
	Findings []Finding `json:"findings"`
}

// Clone returns a copy whose Findings slice can be modified independently.
func (r *Report) Clone() *Report {
	c := *r
	c.Findings = slices.Clone(r.Findings)
	return &c
}

// SortFindings orders findings by severity (most severe first), then ID,
// package, installed version and path, so reports are deterministic.
func SortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if d := b.Severity.Rank() - a.Severity.Rank(); d != 0 {
			return d
		}
		return strings.Compare(a.key(), b.key())
	})
}

func humanDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0m"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}
