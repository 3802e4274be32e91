#include "app/app.h"

int main(int argc, char **argv) { return sb_app_main(argc, argv); }
