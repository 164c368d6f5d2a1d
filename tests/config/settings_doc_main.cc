// Prints the settings table as Markdown (README.md embeds it; readme_sync_test keeps them equal).
#include <iostream>

#include "core/config/config.h"

int main() { std::cout << hfshim::SettingsMarkdown(); }
