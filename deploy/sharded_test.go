package deploy

import (
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/deployment-automator/automator/internal/watch"
)

// render runs `kustomize build dir` with the kustomize API and returns the
// objects by kind (the last of each kind).
func render(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build deploy/%s: %v", dir, err)
	}
	out, err := resMap.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]map[string]any{}
	dec := yaml.NewDecoder(strings.NewReader(string(out)))
	for {
		var o map[string]any
		if err := dec.Decode(&o); err != nil {
			break
		}
		objs[o["kind"].(string)] = o
	}
	return objs
}

// varRef is Kubernetes' $(VAR) reference in a container's args.
var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// TestKustomizeBuildSharded renders deploy/sharded and checks that every pod
// of the StatefulSet gets its own shard from its name and the replica count,
// with nothing edited per replica, and that its pod template is the base's.
func TestKustomizeBuildSharded(t *testing.T) {
	objs := render(t, "sharded")
	if objs["Deployment"] != nil {
		t.Error("deploy/sharded still renders the base Deployment: two watchers would own every repository")
	}
	sts := objs["StatefulSet"]
	if sts == nil {
		t.Fatal("deploy/sharded renders no StatefulSet")
	}
	for _, kind := range []string{"ServiceAccount", "Service", "ConfigMap"} {
		if objs[kind] == nil {
			t.Errorf("deploy/sharded renders no %s", kind)
		}
	}
	replicas, ok := dig(t, sts, "spec", "replicas").(int)
	if !ok || replicas < 2 {
		t.Fatalf("spec.replicas = %v, want an integer >= 2", dig(t, sts, "spec", "replicas"))
	}
	sel := dig(t, sts, "spec", "selector", "matchLabels").(map[string]any)
	podLabels := dig(t, sts, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range sel {
		if podLabels[k] != v {
			t.Errorf("selector %s=%v does not select the pod template (labels %v)", k, v, podLabels)
		}
	}
	if svc := dig(t, objs["Service"], "spec", "selector").(map[string]any); svc["app.kubernetes.io/name"] != podLabels["app.kubernetes.io/name"] {
		t.Errorf("Service selector %v does not select the replicas", svc)
	}

	// The pod template is the base Deployment's, plus the shard.
	base := render(t, "base")["Deployment"]
	baseC := dig(t, base, "spec", "template", "spec").(map[string]any)["containers"].([]any)[0].(map[string]any)
	c := dig(t, sts, "spec", "template", "spec").(map[string]any)["containers"].([]any)[0].(map[string]any)
	for _, k := range []string{"image", "livenessProbe", "readinessProbe", "securityContext", "resources", "volumeMounts"} {
		if !reflect.DeepEqual(c[k], baseC[k]) {
			t.Errorf("container %s differs from the base Deployment's: %v, want %v", k, c[k], baseC[k])
		}
	}

	// Expand the args as the kubelet does for each pod, then parse the shard
	// as the watcher does.
	env := map[string]any{}
	for _, e := range c["env"].([]any) {
		em := e.(map[string]any)
		env[em["name"].(string)] = em
	}
	count, ok := dig(t, env["SHARD_COUNT"], "value").(string)
	if !ok || count != strconv.Itoa(replicas) {
		t.Errorf("SHARD_COUNT = %#v, want the string %q (spec.replicas)", dig(t, env["SHARD_COUNT"], "value"), strconv.Itoa(replicas))
	}
	if got := dig(t, env["POD_NAME"], "valueFrom", "fieldRef", "fieldPath"); got != "metadata.name" {
		t.Fatalf("POD_NAME comes from %v, want the downward API's metadata.name", got)
	}
	var shardArg string
	for _, a := range toStrings(c["args"]) {
		if strings.HasPrefix(a, "--shard=") {
			shardArg = strings.TrimPrefix(a, "--shard=")
		}
	}
	if shardArg == "" {
		t.Fatalf("args %v have no --shard", c["args"])
	}
	stsName := dig(t, sts, "metadata", "name").(string)
	seen := map[int]bool{}
	for ord := range replicas {
		podEnv := map[string]string{"POD_NAME": stsName + "-" + strconv.Itoa(ord), "SHARD_COUNT": count}
		arg := varRef.ReplaceAllStringFunc(shardArg, func(ref string) string {
			v, ok := podEnv[varRef.FindStringSubmatch(ref)[1]]
			if !ok {
				t.Errorf("--shard=%s refers to %s, which the pod does not define", shardArg, ref)
			}
			return v
		})
		s, err := watch.ParseShard(arg)
		if err != nil {
			t.Fatalf("pod %d: --shard=%s: %v", ord, arg, err)
		}
		if s.Index != ord || s.Count != replicas || seen[s.Index] {
			t.Errorf("pod %s-%d watches shard %v, want %d/%d", stsName, ord, s, ord, replicas)
		}
		seen[s.Index] = true
	}
}
