package e2e_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/deployment-automator/automator/e2e/harness"
)

// The hostile suite's timing: the watcher polls every hostileInterval and
// gives one repository hostileRepoBudget per check; the registry 429 storm
// lasts registryStorm with Retry-After stormRetryAfter, the GitHub 5xx storm
// githubStorm, both counted from the watcher's start.
const (
	hostileInterval   = 5 * time.Second
	hostileRepoBudget = 3 * time.Second
	registryStorm     = 60 * time.Second
	stormRetryAfter   = 5 * time.Second
	githubStorm       = 10 * time.Second
	hookSecret        = "hook-secret-7d21be"
)

// counter is a request counter for one hostile server that also keeps every
// credential-looking header it received.
type counter struct {
	n     atomic.Int64
	mu    sync.Mutex
	creds []string
}

func (c *counter) saw(r *http.Request) {
	c.n.Add(1)
	var got []string
	for _, k := range []string{"Authorization", "Proxy-Authorization", "Cookie", "X-Github-Token"} {
		if v := r.Header.Get(k); v != "" {
			got = append(got, k+": "+v)
		}
	}
	if len(got) > 0 {
		c.mu.Lock()
		c.creds = append(c.creds, got...)
		c.mu.Unlock()
	}
}

func (c *counter) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.creds...)
}

// garbageRegistry answers the registry API's ping and tag lists correctly
// (1.0.0 and 2.0.0) but every manifest wrongly, by repository: acme/badjson
// with a body that is not JSON, acme/badtype with an HTML media type, and
// acme/baddigest with a valid manifest (whose config blob it serves) under a
// Docker-Content-Digest that is not its digest.
func garbageRegistry(c *counter) http.HandlerFunc {
	digestOf := func(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }
	config := []byte(`{"architecture":"amd64","os":"linux","created":"2030-01-01T00:00:00Z","rootfs":{"type":"layers","diff_ids":[]},"config":{}}`)
	good := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + digestOf(config) + `","size":` + strconv.Itoa(len(config)) + `},"layers":[]}`)
	return func(w http.ResponseWriter, r *http.Request) {
		c.saw(r)
		path := strings.TrimPrefix(r.URL.Path, "/v2/")
		if path == "" {
			_, _ = io.WriteString(w, "{}")
			return
		}
		if repo, ok := strings.CutSuffix(path, "/tags/list"); ok {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"name": repo, "tags": []string{"1.0.0", "2.0.0"}})
			return
		}
		if strings.HasSuffix(path, "/blobs/"+digestOf(config)) {
			w.Header().Set("Docker-Content-Digest", digestOf(config))
			_, _ = w.Write(config)
			return
		}
		repo, _, ok := strings.Cut(path, "/manifests/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		body, ctype, digest := good, "application/vnd.oci.image.manifest.v1+json", digestOf(good)
		switch repo {
		case "acme/badjson":
			body = []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":`)
			digest = digestOf(body)
		case "acme/badtype":
			body, ctype = []byte("<html><body>maintenance</body></html>"), "text/html"
			digest = digestOf(body)
		case "acme/baddigest":
			digest = "sha256:" + strings.Repeat("0", 64)
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Docker-Content-Digest", digest)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	}
}

// stormProxy fronts the real registry: until `until` every request is
// answered 429 with Retry-After; after it, requests pass through.
func stormProxy(t *testing.T, reg *harness.Registry, until time.Time, during, after *atomic.Int64) string {
	t.Helper()
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(&url.URL{Scheme: "http", Host: reg.Host})
	}, ErrorLog: log.New(io.Discard, "", 0)} // requests the watcher gives up on are not errors here
	return hostile(t, func(w http.ResponseWriter, r *http.Request) {
		if time.Now().Before(until) {
			during.Add(1)
			w.Header().Set("Retry-After", strconv.Itoa(int(stormRetryAfter/time.Second)))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limit exceeded"}]}`)
			return
		}
		after.Add(1)
		rp.ServeHTTP(w, r)
	})
}

// githubGateway fronts the GitHub fake: API requests for acme/edge are
// redirected (302) to foreign, and until stormUntil every other API request
// is answered 502 or 503 (alternately).
type githubGateway struct {
	APIURL     string
	storm      atomic.Int64 // 5xx answers given
	redirected atomic.Int64
	passed     atomic.Int64
}

func startGitHubGateway(t *testing.T, gh *harness.GitHub, foreign string, stormUntil time.Time) *githubGateway {
	t.Helper()
	target, err := url.Parse(gh.URL)
	if err != nil {
		t.Fatal(err)
	}
	g := &githubGateway{}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // the fake builds its URLs from the Host it is asked for
	}, ErrorLog: log.New(io.Discard, "", 0)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api := strings.HasPrefix(r.URL.Path, "/api/v3/")
		switch {
		case api && (strings.HasPrefix(r.URL.Path, "/api/v3/repos/acme/edge/") || r.URL.Path == "/api/v3/repos/acme/edge"):
			g.redirected.Add(1)
			http.Redirect(w, r, "http://"+foreign+r.URL.RequestURI(), http.StatusFound)
		case api && time.Now().Before(stormUntil):
			status := http.StatusBadGateway
			if g.storm.Add(1)%2 == 0 {
				status = http.StatusServiceUnavailable
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, `{"message":%q}`, http.StatusText(status))
		default:
			g.passed.Add(1)
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	g.APIURL = srv.URL + "/api/v3"
	return g
}

// watcherProcess is `automator watch --listen --ops-listen` running in the
// background, its stdout and stderr going to files.
type watcherProcess struct {
	cmd            *exec.Cmd
	hooks, ops     string
	stdout, stderr string
	done           chan struct{}
}

func loopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func startWatcher(t *testing.T, bin, dir string, env map[string]string) *watcherProcess {
	t.Helper()
	p := &watcherProcess{hooks: loopbackAddr(t), ops: loopbackAddr(t), done: make(chan struct{}),
		stdout: filepath.Join(t.TempDir(), "stdout"), stderr: filepath.Join(t.TempDir(), "stderr")}
	out, err := os.Create(p.stdout)
	if err != nil {
		t.Fatal(err)
	}
	errf, err := os.Create(p.stderr)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, "--log-level", "debug", "watch", "--listen", p.hooks, "--ops-listen", p.ops)
	p.cmd.Dir = dir
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = out, errf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		_ = out.Close()
		_ = errf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get("http://" + p.ops + "/healthz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("watcher exited before serving /healthz:\n%s", p.output(t))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("watcher did not serve /healthz within 20s:\n%s", p.output(t))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// output is everything the process printed so far.
func (p *watcherProcess) output(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, f := range []string{p.stdout, p.stderr} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(raw)
	}
	return b.String()
}

// opsSampler polls /healthz and /metrics until stopped, counting /healthz
// failures and keeping the peaks of heap in use and resident memory.
type opsSampler struct {
	checks, failures  atomic.Int64
	peakHeap, peakRSS atomic.Int64
	stop              chan struct{}
	wg                sync.WaitGroup
}

func sampleOps(ops string, every time.Duration) *opsSampler {
	s := &opsSampler{stop: make(chan struct{})}
	client := &http.Client{Timeout: 2 * time.Second}
	metric := func(body []byte, name string) int64 {
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err == nil {
					return int64(f)
				}
			}
		}
		return 0
	}
	raise := func(a *atomic.Int64, v int64) {
		if v > a.Load() {
			a.Store(v)
		}
	}
	s.wg.Go(func() {
		for {
			s.checks.Add(1)
			resp, err := client.Get("http://" + ops + "/healthz")
			if err != nil || resp.StatusCode != http.StatusOK {
				s.failures.Add(1)
			}
			if resp != nil {
				_ = resp.Body.Close()
			}
			if resp, err := client.Get("http://" + ops + "/metrics"); err == nil {
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				raise(&s.peakHeap, metric(body, "go_memstats_heap_inuse_bytes"))
				raise(&s.peakRSS, metric(body, "process_resident_memory_bytes"))
			}
			select {
			case <-s.stop:
				return
			case <-time.After(every):
			}
		}
	})
	return s
}

func (s *opsSampler) end() {
	close(s.stop)
	s.wg.Wait()
}

// slowloris opens a connection to addr and trickles a request into it, one
// byte a second: the request line and headers (never finishing them) or,
// with body, complete headers and then the body. It returns how long the
// server took to drop the connection (or limit, if it did not).
func slowloris(addr string, body bool, limit time.Duration) time.Duration {
	start := time.Now()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0
	}
	defer conn.Close()
	head := "POST " + "/webhooks/generic HTTP/1.1\r\nHost: " + addr + "\r\n"
	trickle := "X-Padding: " + strings.Repeat("a", 200)
	if body {
		head += "Content-Type: application/json\r\nX-Automator-Secret: wrong\r\nContent-Length: 4096\r\n\r\n"
		trickle = `{"repository":"` + strings.Repeat("x", 4000)
	}
	if _, err := io.WriteString(conn, head); err != nil {
		return time.Since(start)
	}
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns when the server closes
		close(closed)
	}()
	for i := 0; time.Since(start) < limit; i++ {
		select {
		case <-closed:
			return time.Since(start)
		case <-time.After(time.Second):
		}
		if _, err := conn.Write([]byte{trickle[i%len(trickle)]}); err != nil {
			return time.Since(start)
		}
	}
	return limit
}

// valuesFile is one service's values file pinning repository at tag.
func valuesFile(service, repository, tag string) string {
	return service + ":\n  image:\n    repository: " + repository + "\n    tag: \"" + tag + "\"\n"
}

// TestHostileWatcherBinary runs the built watcher (`watch --listen
// --ops-listen`) for about 80 s among hostile surroundings, next to healthy
// repositories on the real registry promoted into the GitHub fake by commit:
// a registry that hangs, one whose tag list never ends, one whose manifests
// are garbage (not JSON, wrong media type, digest mismatch), a proxy of the
// real registry answering every request 429 (Retry-After 5) for 60 s, a
// GitHub API answering 502/503 for the first 10 s, an environment whose
// GitHub API redirects to a foreign host, and slowloris clients on the
// webhook listener. Throughout /healthz answers; the healthy repository is
// promoted once per new tag (no duplicate commit) after the GitHub storm
// and again by webhook while the slow clients hold connections; the stormy
// repository is promoted after its storm with few requests during it;
// garbage is never promoted; no secret reaches the output or any hostile or
// foreign host; heap stays bounded (peak reported).
func TestHostileWatcherBinary(t *testing.T) {
	bin := automatorBinary(t)
	reg := harness.StartRegistry(t, harness.WithBasicAuth(regUser, regPassword))
	gh := harness.StartGitHub(t)
	ww := &watchWorld{reg: reg}
	// Pushes go to the registry directly (it has basic auth): the harness
	// pushes with the registry's own credentials.
	ww.push(t, "acme/cart", "1.0.0")
	cart11 := ww.push(t, "acme/cart", "1.1.0")
	ww.push(t, "acme/stormy", "1.0.0")
	stormy11 := ww.push(t, "acme/stormy", "1.1.0")
	ww.push(t, "acme/edgecart", "1.0.0", "1.1.0")

	// The hostile servers, each counting requests and keeping any credential it was sent.
	var hungC, endlessC, garbageC, foreignC counter
	release := make(chan struct{})
	hung := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		hungC.saw(r)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	endless := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		endlessC.saw(r)
		if r.URL.Path == "/v2/" {
			return
		}
		w.Header().Set("Link", fmt.Sprintf(`<%s?n=1000&last=t%d>; rel="next"`, r.URL.Path, endlessC.n.Load()))
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "x", "tags": []string{}})
	})
	garbage := hostile(t, garbageRegistry(&garbageC))
	foreign := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		foreignC.saw(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message":"Not Found"}`)
	})

	start := time.Now()
	var stormDuring, stormAfter atomic.Int64
	stormy := stormProxy(t, reg, start.Add(registryStorm), &stormDuring, &stormAfter)
	gw := startGitHubGateway(t, gh, foreign, start.Add(githubStorm))

	// prod (acme/manifests) and edge (acme/edge, behind the redirect), one values file per service.
	prodPins := map[string]string{
		"cart":      valuesFile("cart", reg.Ref("acme/cart"), "1.0.0"),
		"stormy":    valuesFile("stormy", stormy+"/acme/stormy", "1.0.0"),
		"hung":      valuesFile("hung", hung+"/acme/hung", "1.0.0"),
		"endless":   valuesFile("endless", endless+"/acme/endless", "1.0.0"),
		"badjson":   valuesFile("badjson", garbage+"/acme/badjson", "1.0.0"),
		"badtype":   valuesFile("badtype", garbage+"/acme/badtype", "1.0.0"),
		"baddigest": valuesFile("baddigest", garbage+"/acme/baddigest", "1.0.0"),
	}
	seed := t.TempDir()
	for name, v := range prodPins {
		p := filepath.Join(seed, "envs", "prod", name+".yaml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gh.CreateRepo("acme", "manifests", "main", seed)
	edgeSeed := t.TempDir()
	if err := os.MkdirAll(filepath.Join(edgeSeed, "envs", "edge"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(edgeSeed, "envs", "edge", "edgecart.yaml"), []byte(valuesFile("edgecart", reg.Ref("acme/edgecart"), "1.0.0")), 0o644); err != nil {
		t.Fatal(err)
	}
	gh.CreateRepo("acme", "edge", "main", edgeSeed)
	initial := len(gh.Log(manifestRepo, "main"))

	var cfg strings.Builder
	fmt.Fprintf(&cfg, `version: 1
registries:
  - {host: %q, insecure: true, usernameEnv: REG_USER, passwordEnv: REG_PASS}
  - {host: %q, insecure: true, usernameEnv: REG_USER, passwordEnv: REG_PASS}
  - {host: %q, insecure: true}
  - {host: %q, insecure: true}
  - {host: %q, insecure: true}
scan: {enabled: false}
environments:
  - {name: prod, repo: acme/manifests, files: ["envs/prod/*.yaml"], mode: commit}
  - {name: edge, repo: acme/edge, files: ["envs/edge/*.yaml"], mode: commit}
watch:
  interval: %s
  repositoryTimeout: %s
  concurrency: 4
  maxTagPages: 20
  webhookSecretEnv: HOOK_SECRET
  rules:
`, reg.Host, stormy, hung, endless, garbage, hostileInterval, hostileRepoBudget)
	rules := [][2]string{{"cart", reg.Ref("acme/cart")}, {"stormy", stormy + "/acme/stormy"}, {"hung", hung + "/acme/hung"},
		{"endless", endless + "/acme/endless"}, {"badjson", garbage + "/acme/badjson"}, {"badtype", garbage + "/acme/badtype"},
		{"baddigest", garbage + "/acme/baddigest"}}
	for _, r := range rules {
		fmt.Fprintf(&cfg, "    - {name: %s, image: %q, policy: {semver: \">=1.0.0\"}, environments: [prod]}\n", r[0], r[1])
	}
	fmt.Fprintf(&cfg, "    - {name: edgecart, image: %q, policy: {semver: \">=1.0.0\"}, environments: [edge]}\n", reg.Ref("acme/edgecart"))
	app := harness.NewGitRepo(t, t.TempDir())
	app.WriteFile("automator.yaml", cfg.String())
	app.Commit("hostile watcher config")

	env := gh.Env(manifestRepo)
	env["GITHUB_API_URL"] = gw.APIURL
	env["GITHUB_GRAPHQL_URL"] = gw.APIURL + "/graphql"
	env["REG_USER"], env["REG_PASS"] = regUser, regPassword
	env["HOOK_SECRET"] = hookSecret
	p := startWatcher(t, bin, app.Dir, env)
	ops := sampleOps(p.ops, 500*time.Millisecond)

	prodFile := func(name string) string {
		s, _ := gh.ReadFile(manifestRepo, "main", "envs/prod/"+name+".yaml")
		return s
	}
	waitFor := func(what string, limit time.Duration, ok func() bool) time.Duration {
		t.Helper()
		for begin := time.Now(); ; time.Sleep(250 * time.Millisecond) {
			if ok() {
				return time.Since(start)
			}
			if time.Since(begin) > limit {
				t.Fatalf("%s: not within %s\n%s", what, limit, p.output(t))
			}
		}
	}

	// 1. GitHub storm: cart 1.1.0 lands only after the API recovers.
	cartAt := waitFor("cart 1.1.0 promoted after the GitHub 5xx storm", 45*time.Second, func() bool {
		return strings.Contains(prodFile("cart"), "1.1.0@"+cart11)
	})
	if cartAt < githubStorm {
		t.Errorf("cart promoted at %s, during the GitHub storm (%s)", cartAt, githubStorm)
	}
	if gw.storm.Load() == 0 {
		t.Error("the GitHub storm answered no request: it tested nothing")
	}

	// 2. Slow webhook clients hold connections to the webhook listener while
	//    a real delivery for cart 1.2.0 is accepted and promoted.
	type drop struct {
		body bool
		took time.Duration
	}
	drops := make(chan drop, 20)
	var slow sync.WaitGroup
	for i := range 20 {
		slow.Go(func() { drops <- drop{body: i%2 == 1, took: slowloris(p.hooks, i%2 == 1, 50*time.Second)} })
	}
	time.Sleep(2 * time.Second)
	cart12 := ww.push(t, "acme/cart", "1.2.0")
	payload := fmt.Sprintf(`{"repository":%q,"tag":"1.2.0","digest":%q}`, reg.Ref("acme/cart"), cart12)
	req, err := http.NewRequest(http.MethodPost, "http://"+p.hooks+"/webhooks/generic", strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Automator-Secret", hookSecret)
	hookStart := time.Now()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("webhook while slow clients hold connections: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("webhook for cart 1.2.0 answered %d, want 202", resp.StatusCode)
	}
	hookAnswered := time.Since(hookStart)
	cart12At := waitFor("cart 1.2.0 promoted by webhook", 30*time.Second, func() bool {
		return strings.Contains(prodFile("cart"), "1.2.0@"+cart12)
	})

	// 3. The registry storm: stormy lands after it ends, with few requests during it.
	stormyAt := waitFor("stormy 1.1.0 promoted after the 429 storm", registryStorm+45*time.Second-time.Since(start), func() bool {
		return strings.Contains(prodFile("stormy"), "1.1.0@"+stormy11)
	})
	if stormyAt < registryStorm {
		t.Errorf("stormy promoted at %s, during its 429 storm (%s)", stormyAt, registryStorm)
	}
	slow.Wait()
	close(drops)
	elapsed := time.Since(start)
	ops.end()

	// Slow clients were dropped by the server's timeouts, not kept forever.
	var headDrop, bodyDrop time.Duration
	for d := range drops {
		limit := 20 * time.Second // ReadHeaderTimeout 10s, with slack
		if d.body {
			limit = 40 * time.Second // ReadTimeout 30s, with slack
		}
		if d.took >= limit {
			t.Errorf("a slow client (body=%v) held its connection %s; the server should drop it within %s", d.body, d.took, limit)
		}
		if d.body {
			bodyDrop = max(bodyDrop, d.took)
		} else {
			headDrop = max(headDrop, d.took)
		}
	}

	// Healthz throughout, readiness despite the hung registry, heap bounded.
	if resp, err := http.Get("http://" + p.ops + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz after the run: %v %v", resp, err)
	} else {
		_ = resp.Body.Close()
	}
	if f := ops.failures.Load(); f != 0 {
		t.Errorf("/healthz failed %d of %d times during the run", f, ops.checks.Load())
	}
	const heapBound = 256 << 20
	if h := ops.peakHeap.Load(); h == 0 || h > heapBound {
		t.Errorf("peak heap in use %d bytes; want sampled and under %d", h, heapBound)
	}

	// The 429 storm: the watcher backs off on Retry-After instead of hammering.
	cycles := int64(registryStorm/hostileInterval) + 1
	if n := stormDuring.Load(); n == 0 || n > 3*int64(registryStorm/stormRetryAfter) {
		t.Errorf("the stormy registry got %d requests in its %s storm (Retry-After %s, %d cycles); want some, at most %d",
			n, registryStorm, stormRetryAfter, cycles, 3*int64(registryStorm/stormRetryAfter))
	}
	// The endless paginator is cut at the page cap every check.
	checks := int64(elapsed/hostileInterval) + 2
	if n := endlessC.n.Load(); n > checks*(20+1) {
		t.Errorf("endless paginator served %d requests in about %d checks; want at most %d (page cap 20)", n, checks, checks*21)
	}
	// Garbage is never promoted; the hung and endless repositories stay as they were.
	for _, name := range []string{"hung", "endless", "badjson", "badtype", "baddigest"} {
		if got := prodFile(name); got != prodPins[name] {
			t.Errorf("%s changed in prod:\n%s", name, got)
		}
	}
	if garbageC.n.Load() == 0 || hungC.n.Load() == 0 {
		t.Errorf("the garbage (%d) or hung (%d) registry was never asked: they tested nothing", garbageC.n.Load(), hungC.n.Load())
	}
	// One commit per promotion: cart 1.1.0, cart 1.2.0, stormy 1.1.0.
	if n := len(gh.Log(manifestRepo, "main")) - initial; n != 3 {
		t.Errorf("%d commits on prod's main, want 3 (cart 1.1.0, cart 1.2.0, stormy 1.1.0): a retry duplicated or lost one", n)
	}
	// The edge environment's API redirects abroad: no credential follows it.
	if gw.redirected.Load() == 0 || foreignC.n.Load() == 0 {
		t.Errorf("the cross-host redirect was not exercised (redirected %d, foreign host asked %d)", gw.redirected.Load(), foreignC.n.Load())
	}
	for name, c := range map[string]*counter{"foreign": &foreignC, "hung": &hungC, "endless": &endlessC, "garbage": &garbageC} {
		for _, h := range c.received() {
			t.Errorf("the %s host received a credential header: %.40s…", name, h)
		}
	}
	// No secret in the output.
	out := p.output(t)
	for what, s := range map[string]string{"registry password": regPassword, "GitHub token": gh.Token, "webhook secret": hookSecret,
		"registry basic auth": base64.StdEncoding.EncodeToString([]byte(regUser + ":" + regPassword))} {
		if strings.Contains(out, s) {
			t.Errorf("the %s appears in the watcher's output", what)
		}
	}
	if !strings.Contains(out, "1.2.0") {
		t.Errorf("the output does not mention the promoted 1.2.0: was it captured?\n%.2000s", out)
	}

	t.Logf("hostile run %s: /healthz %d checks, %d failures; peak heap in use %.1f MiB, peak RSS %.1f MiB",
		elapsed.Round(time.Second), ops.checks.Load(), ops.failures.Load(), float64(ops.peakHeap.Load())/(1<<20), float64(ops.peakRSS.Load())/(1<<20))
	t.Logf("GitHub 5xx storm (%s): %d answers 502/503; cart 1.1.0 landed at %s", githubStorm, gw.storm.Load(), cartAt.Round(100*time.Millisecond))
	t.Logf("registry 429 storm (%s, Retry-After %s): %d requests during, %d after; stormy landed at %s",
		registryStorm, stormRetryAfter, stormDuring.Load(), stormAfter.Load(), stormyAt.Round(100*time.Millisecond))
	t.Logf("slow webhook clients: header tricklers dropped after at most %s, body tricklers after at most %s; a real delivery answered in %s, cart 1.2.0 landed at %s",
		headDrop.Round(100*time.Millisecond), bodyDrop.Round(100*time.Millisecond), hookAnswered.Round(time.Millisecond), cart12At.Round(100*time.Millisecond))
	t.Logf("hung registry %d requests; endless paginator %d requests (~%d checks); garbage registry %d requests; cross-host redirects %d, foreign host %d requests, credentials received 0",
		hungC.n.Load(), endlessC.n.Load(), checks, garbageC.n.Load(), gw.redirected.Load(), foreignC.n.Load())
}
