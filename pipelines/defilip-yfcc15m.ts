// DeFILIP on YFCC-15M with the seed's recipe (ViT-B/32; `--model rn50` for ResNet-50), from webdataset shards given by
// --data SPEC or $CLIP_BENCH_YFCC15M. Every field can be overridden from the command line (see --help).
//   node pipelines/defilip-yfcc15m.ts --data '/data/yfcc15m/{00000..01538}.tar' [--model rn50] [--resume latest]
import { isMain } from '../run/command.ts';
import { main } from '../run/main.ts';
import { yfcc15mDeclaration } from '../run/recipes/yfcc15m.ts';

export const declaration = yfcc15mDeclaration('defilip');

if (isMain(import.meta)) await main(declaration, import.meta);
