package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const loopback = "../../samples/loopback/capture.pcap"

// runCLI runs the command line in-process and returns its exit code and outputs.
func runCLI(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/why502 -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./cmd/why502 -update rewrites it)\n- want:\n%s\n-  got:\n%s", path, want, got)
	}
}

func TestFlowsGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"flows-loopback-table", []string{"flows", loopback}},
		{"flows-loopback-json", []string{"flows", "--format", "json", loopback}},
		{"flows-loopback-filter", []string{"flows", "--format", "jsonl", "-f", "tcp and (port 18099 or port 18081)", loopback}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, tc.args...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, errOut)
			}
			golden(t, tc.name, out)
		})
	}
}

// TestFlowsStdin checks that "-" reads standard input and gives the same
// connections as the file itself.
func TestFlowsStdin(t *testing.T) {
	raw, err := os.ReadFile(loopback)
	if err != nil {
		t.Fatal(err)
	}
	_, fromFile, _ := runCLI(t, nil, "flows", "--format", "jsonl", loopback)
	code, fromStdin, errOut := runCLI(t, raw, "flows", "--format", "jsonl", "-")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	// The file name differs ("-"); everything else must not.
	fromFile = strings.ReplaceAll(fromFile, `"file":"`+loopback+`"`, `"file":"-"`)
	if fromFile != fromStdin {
		t.Errorf("stdin and file disagree\n- want:\n%s\n-  got:\n%s", fromFile, fromStdin)
	}
}

func TestFlowsJSONContract(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "flows", "--format", "json", loopback)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	var doc struct {
		Connections []map[string]any `json:"connections"`
		Summary     map[string]any   `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if len(doc.Connections) == 0 {
		t.Fatal("no connections")
	}
	for _, key := range []string{"start", "client", "server", "state", "bytes_client", "bytes_server",
		"closed_by", "close", "file", "first_frame", "summary"} {
		if _, ok := doc.Connections[0][key]; !ok {
			t.Errorf("connection object has no %q field", key)
		}
	}
	prev := ""
	for i, c := range doc.Connections {
		s, _ := c["start"].(string)
		if s < prev {
			t.Errorf("connection %d starts at %s, before the previous one (%s): not oldest first", i, s, prev)
		}
		prev = s
	}
	if n, _ := doc.Summary["connections"].(float64); int(n) != len(doc.Connections) {
		t.Errorf("summary says %v connections, output has %d", doc.Summary["connections"], len(doc.Connections))
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("this is not a capture\n"), 0o644)
	empty := filepath.Join(dir, "empty.pcap")
	os.WriteFile(empty, nil, 0o644)
	raw, err := os.ReadFile(loopback)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, raw[:len(raw)*2/3], 0o644)

	tests := []struct {
		name    string
		args    []string
		code    int
		stderr  string // a substring that must appear
		someOut bool   // results expected on stdout
	}{
		{"no args", nil, exitUsage, "Usage", false},
		{"unknown command", []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`, false},
		{"no files", []string{"flows"}, exitUsage, "no capture file", false},
		{"bad format", []string{"flows", "--format", "xml", loopback}, exitUsage, `unknown format "xml"`, false},
		{"bad filter", []string{"flows", "-f", "host", loopback}, exitUsage, "filter", false},
		{"missing file", []string{"flows", filepath.Join(dir, "nope.pcap")}, exitInput, "nope.pcap", false},
		{"not a capture", []string{"flows", text}, exitInput, "notes.txt", false},
		{"empty file", []string{"flows", empty}, exitInput, "empty.pcap", false},
		{"truncated file", []string{"flows", cut}, exitOK, "cut.pcap: frame", true},
		{"analyze: bad --front", []string{"analyze", "--front", "10.0.0.1", loopback}, exitUsage, `--front "10.0.0.1"`, false},
		{"analyze: bad --upstream", []string{"analyze", "--upstream", "nonsense", loopback}, exitUsage, "--upstream", false},
		{"analyze: not a capture", []string{"analyze", text}, exitInput, "notes.txt", false},
		{"analyze: truncated file", []string{"analyze", cut}, exitOK, "cut.pcap: frame", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, tc.args...)
			if code != tc.code {
				t.Errorf("exit code\n- want: %d\n-  got: %d (stderr: %s)", tc.code, code, errOut)
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr\n- want: containing %q\n-  got: %s", tc.stderr, errOut)
			}
			if tc.someOut && !strings.Contains(out, " connections") {
				t.Errorf("expected results for what could be read, got:\n%s", out)
			}
		})
	}
}
