set terminal svg size 640,440 dynamic font "sans,11"
set output "/work/main/bench/results/memory.svg"
set title "Server memory per idle connection (past a 1 % warm-up), KiB"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -30 scale 0
set key top left
set grid ytics
set yrange [0:*]
plot "/work/main/bench/results/memory.dat" using 2:xtic(1) title "Switchboard" lc rgb "#1f77b4", "" using 3 title "Node.js: socket.io / ws" lc rgb "#ff7f0e", "" using 4 title "Node.js: uWebSockets.js" lc rgb "#2ca02c"
