package gitops

import "context"

// Redacting wraps w so that the free text a request carries into commit
// messages and pull request titles and bodies — the title, the note (a
// rollback's reason), the titles of scan findings — passes through scrub
// (logging.Redactor.Redact) first, and so do the title, body and message of
// the result the caller prints. Identifiers (services, repositories, tags,
// digests, branches) are left alone: they name things and must stay exact.
func Redacting(w Writer, scrub func(string) string) Writer {
	return redacting{Writer: w, scrub: scrub}
}

type redacting struct {
	Writer
	scrub func(string) string
}

// Apply implements Writer.
func (r redacting) Apply(ctx context.Context, req Request) (*Result, error) {
	req.Title, req.Note = r.scrub(req.Title), r.scrub(req.Note)
	updates := make([]Update, len(req.Updates))
	for i, u := range req.Updates {
		if u.Scan != nil {
			s := r.scan(*u.Scan)
			u.Scan = &s
		}
		updates[i] = u
	}
	req.Updates = updates
	blocked := make([]Blocked, len(req.Blocked))
	for i, b := range req.Blocked {
		b.Scan = r.scan(b.Scan)
		blocked[i] = b
	}
	req.Blocked = blocked
	res, err := r.Writer.Apply(ctx, req)
	if res != nil {
		res.Message = r.scrub(res.Message)
		if res.PR != nil {
			pr := *res.PR
			pr.Title, pr.Body = r.scrub(pr.Title), r.scrub(pr.Body)
			res.PR = &pr
		}
	}
	return res, err
}

func (r redacting) scan(s ScanSummary) ScanSummary {
	findings := make([]Finding, len(s.Blocking))
	for i, f := range s.Blocking {
		f.Title = r.scrub(f.Title)
		findings[i] = f
	}
	s.Blocking = findings
	return s
}
