package pipeline

// GeneratedShares exposes generatedShares to the black-box tests.
var GeneratedShares = generatedShares
