package main

import (
	"testing"

	"github.com/strangler-proxy/strangler/extracted-services/internal/stacktest"
)

func TestRun(t *testing.T) { stacktest.CheckServiceBinary(t, run) }
