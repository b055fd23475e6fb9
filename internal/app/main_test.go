package app

import (
	"testing"

	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
