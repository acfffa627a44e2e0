//go:build race

package resilience

func init() { raceEnabled = true }
