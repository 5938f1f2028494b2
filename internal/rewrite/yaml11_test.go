package rewrite

import "testing"

func TestAsYAML11(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no directive", "a: 1\n", "a: 1\n"},
		{"first line", "%YAML 1.2\n---\na: 1\n", "%YAML 1.1\n---\na: 1\n"},
		{"trailing blank", "%YAML 1.2 \n---\n", "%YAML 1.1 \n---\n"},
		{"tab", "%YAML 1.2\t# c\n---\n", "%YAML 1.1\t# c\n---\n"},
		{"crlf", "%YAML 1.2\r\n---\r\n", "%YAML 1.1\r\n---\r\n"},
		{"end of input", "%YAML 1.2", "%YAML 1.1"},
		{"second document", "a: 1\n...\n%YAML 1.2\n---\nb: 2\n", "a: 1\n...\n%YAML 1.1\n---\nb: 2\n"},
		{"every directive", "%YAML 1.2\n---\na\n...\n%YAML 1.2\n---\nb\n", "%YAML 1.1\n---\na\n...\n%YAML 1.1\n---\nb\n"},
		{"not at line start", "a: \"%YAML 1.2\"\n", "a: \"%YAML 1.2\"\n"},
		{"longer version", "%YAML 1.23\n", "%YAML 1.23\n"},
		{"version 1.1 kept", "%YAML 1.1\n", "%YAML 1.1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			got := asYAML11(in)
			if string(got) != tt.want {
				t.Errorf("asYAML11(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if string(in) != tt.in {
				t.Errorf("asYAML11 changed its input to %q", in)
			}
		})
	}
}
