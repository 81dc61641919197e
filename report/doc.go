// Package report writes why502's results for people and for scripts: a
// text table, one JSON document, or JSON lines. Writers stream: each record
// is written when it is handed over, so output memory does not grow with the
// size of the capture.
//
// It formats; it does not analyze.
package report
