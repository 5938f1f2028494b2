package status

import (
	"html/template"
	"io"
	"net/url"
	"time"
)

// page is the self-contained status page: inline CSS, no script, no
// external asset (it is served on the watcher's ops port and saved as a CI
// artifact, where nothing may be fetched). html/template escapes every
// value; links are only http(s) (safeURL).
var page = template.Must(template.New("status").Funcs(template.FuncMap{"safeURL": safeURL}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>automator status</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
p.meta { color: #59636e; margin: 0 0 1rem; font-size: .9rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border: 1px solid #d1d9e0; padding: .35rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
tr.env-start td { border-top: 2px solid #59636e; }
td.digest, td.since { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
td.drift { background: #fff8c5; font-weight: 600; }
td.scan-fail { background: #ffebe9; }
td.scan-pass { color: #1a7f37; }
td.hold { background: #ddf4ff; }
.problems { margin-top: 1rem; color: #d1242f; }
</style>
</head>
<body>
<h1>What runs where</h1>
<p class="meta">Read {{.Generated}} · environments: {{range $i, $e := .Envs}}{{if $i}}, {{end}}{{$e}}{{end}}</p>
<table id="status-matrix">
<thead><tr>{{range .Columns}}<th scope="col">{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr data-env="{{.Env}}" data-service="{{.Service}}"{{if .First}} class="env-start"{{end}}>
<td>{{.Env}}</td><td>{{.Service}}</td><td>{{.Tag}}</td><td class="digest" title="{{.FullDigest}}">{{.Digest}}</td>
<td class="since">{{if .SinceURL}}<a href="{{safeURL .SinceURL}}">{{.Since}}</a>{{else}}{{.Since}}{{end}}</td>
<td>{{.How}}</td><td class="scan-{{.Scan}}">{{.Scan}}</td>
<td>{{if .PRURL}}<a href="{{safeURL .PRURL}}">{{.PR}}</a>{{else}}{{.PR}}{{end}}</td>
<td{{if .Drifted}} class="drift"{{end}}>{{.Drift}}</td>{{if $.Holds}}<td class="hold">{{.Hold}}</td>{{end}}
</tr>
{{- end}}
</tbody>
</table>
{{if .Problems}}<ul class="problems">{{range .Problems}}<li>{{.Env}}: {{.Error}}</li>{{end}}</ul>{{end}}
</body>
</html>
`))

type htmlRow struct {
	cells
	FullDigest string
	First      bool
}

func renderHTML(w io.Writer, m *Matrix) error {
	holds := m.HasHolds()
	data := struct {
		Generated string
		Envs      []string
		Columns   []string
		Rows      []htmlRow
		Problems  []Problem
		Holds     bool
	}{Generated: m.Generated.Format(time.RFC3339), Envs: m.Envs, Columns: columns(holds), Problems: m.Problems, Holds: holds}
	prev := ""
	for _, r := range m.Rows {
		data.Rows = append(data.Rows, htmlRow{cells: m.cells(r), FullDigest: r.Digest, First: r.Env != prev})
		prev = r.Env
	}
	return page.Execute(w, data)
}

// safeURL passes http(s) links and drops anything else (javascript:, data:).
func safeURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "#"
	}
	return u.String()
}
