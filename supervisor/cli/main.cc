#include "supervisor/cli/cli.h"

int main(int argc, char** argv) { return xsup::supervisor::cli::run(argc, argv); }
