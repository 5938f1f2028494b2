package gate

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// SARIF 2.1.0, the subset GitHub code scanning reads. Only the fields written
// are modelled; the output is validated against the OASIS schema in tests.
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
)

type sarifLog struct {
	Version string     `json:"version"`
	Schema  string     `json:"$schema"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool              sarifTool               `json:"tool"`
	Results           []sarifResult           `json:"results"`
	OriginalURIBaseID map[string]sarifArtLoc  `json:"originalUriBaseIds,omitempty"`
	Invocations       []sarifInvocation       `json:"invocations,omitempty"`
	Properties        map[string]any          `json:"properties,omitempty"`
	AutomationDetails *sarifAutomationDetails `json:"automationDetails,omitempty"`
}

type sarifAutomationDetails struct {
	ID string `json:"id"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool   `json:"executionSuccessful"`
	EndTimeUTC          string `json:"endTimeUtc,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	FullName       string      `json:"fullName,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string          `json:"id"`
	Name             string          `json:"name,omitempty"`
	ShortDescription sarifMessage    `json:"shortDescription"`
	FullDescription  *sarifMessage   `json:"fullDescription,omitempty"`
	HelpURI          string          `json:"helpUri,omitempty"`
	Help             *sarifMultiText `json:"help,omitempty"`
	DefaultConfig    sarifRuleConfig `json:"defaultConfiguration"`
	Properties       map[string]any  `json:"properties,omitempty"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifMultiText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifResult struct {
	RuleID       string             `json:"ruleId"`
	RuleIndex    int                `json:"ruleIndex"`
	Level        string             `json:"level"`
	Message      sarifMessage       `json:"message"`
	Locations    []sarifLocation    `json:"locations"`
	Suppressions []sarifSuppression `json:"suppressions,omitempty"`
	Properties   map[string]any     `json:"properties,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status,omitempty"`
	Justification string `json:"justification,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
	Message          *sarifMessage `json:"message,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtLoc `json:"artifactLocation"`
	Region           sarifRegion `json:"region"`
}

type sarifArtLoc struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
	EndLine     int `json:"endLine"`
	EndColumn   int `json:"endColumn"`
}

// WriteSARIF writes every finding of r as a SARIF 2.1.0 result for code
// scanning: one rule per advisory ID, a level from the severity (CRITICAL and
// HIGH → error, MEDIUM → warning, LOW and UNKNOWN → note) plus the numeric
// security-severity GitHub ranks by, ignored findings as accepted external
// suppressions, and the verdicts and DB age in the run's properties.
func WriteSARIF(w io.Writer, r *Report, verdicts []Verdict, now time.Time) error {
	driver := sarifDriver{
		Name:           "automator",
		FullName:       "automator vulnerability gate (" + r.Scanner + ")",
		InformationURI: "https://github.com/aquasecurity/trivy",
		Rules:          []sarifRule{},
	}
	if _, v, ok := strings.Cut(r.Scanner, " "); ok {
		driver.Version = strings.TrimPrefix(v, "v")
	}
	ignored, _ := ignoreEvidence(verdicts)
	suppressed := map[string]IgnoredFinding{}
	for _, ig := range ignored {
		suppressed[ig.Finding.key()] = ig
	}
	ruleIndex := map[string]int{}
	results := []sarifResult{}
	findings := append([]Finding(nil), r.Findings...)
	SortFindings(findings)
	for _, f := range findings {
		idx, ok := ruleIndex[f.ID]
		if !ok {
			idx = len(driver.Rules)
			ruleIndex[f.ID] = idx
			driver.Rules = append(driver.Rules, sarifRuleFor(f))
		}
		res := sarifResult{
			RuleID:    f.ID,
			RuleIndex: idx,
			Level:     sarifLevel(f.Severity),
			Message: sarifMessage{Text: fmt.Sprintf("Package: %s\nInstalled Version: %s\nVulnerability %s\nSeverity: %s\nFixed Version: %s\nImage: %s",
				f.Package, f.Installed, f.ID, f.Severity, orNone(f.Fixed), r.Image)},
			Locations: []sarifLocation{{
				PhysicalLocation: sarifPhysical{
					ArtifactLocation: sarifArtLoc{URI: sarifURI(r.Image, f), URIBaseID: "ROOTPATH"},
					Region:           sarifRegion{StartLine: 1, StartColumn: 1, EndLine: 1, EndColumn: 1},
				},
				Message: &sarifMessage{Text: fmt.Sprintf("%s: %s@%s", r.Image, f.Package, f.Installed)},
			}},
			Properties: map[string]any{"package": f.Package, "installedVersion": f.Installed, "fixedVersion": f.Fixed, "purl": f.PURL},
		}
		if ig, ok := suppressed[f.key()]; ok {
			res.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted",
				Justification: fmt.Sprintf("%s (%s)", orDash(ig.Rule.Statement), ig.Rule.Source)}}
		}
		results = append(results, res)
	}
	props := map[string]any{
		"imageRef":     r.Image.Ref,
		"imageDigest":  r.Image.Digest,
		"dbUpdatedAt":  r.DB.UpdatedAt.UTC().Format(time.RFC3339),
		"dbNextUpdate": r.DB.NextUpdate.UTC().Format(time.RFC3339),
		"dbAgeHours":   r.DB.Age(now).Hours(),
	}
	var vs []map[string]any
	for _, v := range verdicts {
		vs = append(vs, map[string]any{"env": envName(v), "outcome": string(v.Outcome), "reasons": v.Reasons, "policy": v.Policy})
	}
	if vs != nil {
		props["verdicts"] = vs
	}
	log := sarifLog{
		Version: sarifVersion,
		Schema:  sarifSchema,
		Runs: []sarifRun{{
			Tool:              sarifTool{Driver: driver},
			Results:           results,
			OriginalURIBaseID: map[string]sarifArtLoc{"ROOTPATH": {URI: "file:///"}},
			Invocations:       []sarifInvocation{{ExecutionSuccessful: true, EndTimeUTC: r.ScannedAt.UTC().Format(time.RFC3339)}},
			Properties:        props,
			AutomationDetails: &sarifAutomationDetails{ID: "automator/" + repoOf(r.Image.Ref) + "/"},
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("writing SARIF report: %w", err)
	}
	return nil
}

func sarifRuleFor(f Finding) sarifRule {
	title := f.Title
	if title == "" {
		title = f.ID
	}
	rule := sarifRule{
		ID:               f.ID,
		Name:             "VulnerablePackage",
		ShortDescription: sarifMessage{Text: title},
		FullDescription:  &sarifMessage{Text: title},
		HelpURI:          f.URL,
		Help: &sarifMultiText{
			Text:     fmt.Sprintf("Vulnerability %s\nSeverity: %s\nPackage: %s\nFixed Version: %s\n%s", f.ID, f.Severity, f.Package, orNone(f.Fixed), f.URL),
			Markdown: fmt.Sprintf("**Vulnerability %s**\n| Severity | Package | Fixed Version | Link |\n| --- | --- | --- | --- |\n|%s|%s|%s|[%s](%s)|\n", f.ID, f.Severity, mdEscape(f.Package), mdEscape(orNone(f.Fixed)), f.ID, f.URL),
		},
		DefaultConfig: sarifRuleConfig{Level: sarifLevel(f.Severity)},
		Properties: map[string]any{
			"precision":         "very-high",
			"security-severity": securitySeverity(f.Severity),
			"tags":              []string{"vulnerability", "security", string(f.Severity)},
		},
	}
	return rule
}

func sarifLevel(s Severity) string {
	switch s {
	case SeverityCritical, SeverityHigh:
		return "error"
	case SeverityMedium:
		return "warning"
	default:
		return "note"
	}
}

// securitySeverity is the CVSS-like score GitHub uses to bucket alerts.
func securitySeverity(s Severity) string {
	switch s {
	case SeverityCritical:
		return "9.5"
	case SeverityHigh:
		return "8.0"
	case SeverityMedium:
		return "5.5"
	case SeverityLow:
		return "2.0"
	default:
		return "0.0"
	}
}

// sarifURI locates a finding: the file for language packages, the image
// repository for OS packages.
func sarifURI(img Image, f Finding) string {
	if f.Path != "" {
		return strings.TrimPrefix(f.Path, "/")
	}
	return repoOf(img.Ref)
}

// repoOf strips the tag or digest from an image reference.
func repoOf(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
