#!/usr/bin/env node
// Placeholder until the data-access check lands.
