// Image-text retrieval recall@k, "CLIP-paper style" as CLIP_benchmark computes it: a query scores 1 when at
// least one of its positives is among the k best candidates. Images have several captions.
//   text_retrieval_recall@k  : image queries, text candidates (any of the image's captions in the top k)
//   image_retrieval_recall@k : text queries, image candidates (the caption's image in the top k)
//   mean_recall@k            : the mean of the two (DataComp's main retrieval metric is mean_recall@1)
import { topK } from './classification-metrics.ts';

/**
 * @param similarity row-major [images, texts] scores
 * @param textImage  textImage[t] = index of the image caption t belongs to
 */
export function retrievalMetrics(
  similarity: ArrayLike<number>,
  images: number,
  textImage: ArrayLike<number>,
  ks: number[] = [1, 5, 10],
): Record<string, number> {
  const texts = textImage.length;
  if (similarity.length !== images * texts)
    throw new Error(`retrievalMetrics: similarity has ${similarity.length} values, expected ${images} x ${texts}`);
  const out: Record<string, number> = {};
  const maxK = Math.max(...ks);
  const imageHits = new Float64Array(ks.length),
    textHits = new Float64Array(ks.length);
  const column = new Float64Array(images);
  for (let t = 0; t < texts; t++) {
    for (let i = 0; i < images; i++) column[i] = similarity[i * texts + t];
    const best = topK(column, 0, images, Math.min(maxK, images));
    ks.forEach((k, n) => {
      if (best.slice(0, k).includes(textImage[t])) imageHits[n]++;
    });
  }
  for (let i = 0; i < images; i++) {
    const best = topK(similarity, i * texts, texts, Math.min(maxK, texts));
    ks.forEach((k, n) => {
      if (best.slice(0, k).some((t) => textImage[t] === i)) textHits[n]++;
    });
  }
  ks.forEach((k, n) => {
    out[`image_retrieval_recall@${k}`] = imageHits[n] / texts;
    out[`text_retrieval_recall@${k}`] = textHits[n] / images;
  });
  for (const k of ks)
    out[`mean_recall@${k}`] = (out[`image_retrieval_recall@${k}`] + out[`text_retrieval_recall@${k}`]) / 2;
  return out;
}
